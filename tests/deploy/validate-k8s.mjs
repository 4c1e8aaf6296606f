// node validate-k8s.mjs FILE... : every document validated against the Kubernetes API schemas that the
// npm package kubernetes-models carries (precompiled, offline), and the Prometheus Operator's CRDs from
// @kubernetes-models/prometheus-operator. Exit 1 on any error.
//
// Strict, as kubeconform -strict: a field the schema does not declare is an error, at any depth, CRDs included
// (the schemas themselves allow unknown fields, so a misspelt `readinesProbe` would pass them). The packages carry
// only compiled validators, no JSON schema to read, so the check watches the validator walk the object: each
// compiled validator reads every property its schema declares (`data.readinessProbe !== undefined`), and enumerates
// the keys of a map (labels, a ConfigMap's data). An object whose declared properties were read is checked: a key
// the validator never read is unknown. An object the validator enumerated is a map (any key). An object it never
// looked into declares no properties (free-form, x-kubernetes-preserve-unknown-fields): left alone.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const modules = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "autoscaling/v2": "kubernetes-models/autoscaling/v2",
  "policy/v1": "kubernetes-models/policy/v1",
  "networking.k8s.io/v1": "kubernetes-models/networking.k8s.io/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};

/** Runs the model's validator on `obj` seen through proxies: the schema's errors, and the paths of the fields no schema declares. */
function validateStrict(Model, obj) {
  const visited = [];
  const proxies = new WeakMap();
  const watch = (value, path) => {
    if (value === null || typeof value !== "object") return value;
    if (proxies.has(value)) return proxies.get(value);
    const seen = { target: value, path, read: new Set(), enumerated: false };
    visited.push(seen);
    const child = key => Array.isArray(value) ? `${path}[${key}]` : (path ? `${path}.${key}` : key);
    const proxy = new Proxy(value, {
      get(target, key, receiver) {
        const v = Reflect.get(target, key, receiver);
        if (typeof key !== "string") return v;
        seen.read.add(key);
        return Object.hasOwn(target, key) ? watch(v, child(key)) : v;
      },
      has(target, key) {
        if (typeof key === "string") seen.read.add(key);
        return Reflect.has(target, key);
      },
      ownKeys(target) {
        seen.enumerated = true;
        return Reflect.ownKeys(target);
      },
    });
    proxies.set(value, proxy);
    return proxy;
  };
  // The model's validate() runs the schema's validator on `this`: here, the watched object.
  const errors = [];
  try { Model.prototype.validate.call(watch(obj, "")); }
  catch (e) { errors.push(e.message); }
  const unknown = [];
  for (const { target, path, read, enumerated } of visited) {
    if (Array.isArray(target) || enumerated || read.size === 0) continue;
    for (const key of Object.keys(target)) {
      if (!read.has(key)) errors.push(`unknown field ${path ? `${path}.${key}` : key}`);
    }
  }
  return errors;
}

let failed = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"), { uniqueKeys: true })) {
    if (doc.errors.length) { console.log(`FAIL ${file}: ${doc.errors[0].message}`); failed++; continue; }
    const obj = doc.toJS();
    if (!obj) continue;
    const where = `${file}: ${obj.apiVersion} ${obj.kind} ${obj.metadata?.name ?? ""}`;
    if (obj.apiVersion?.startsWith("kustomize.config.k8s.io/")) { console.log(`skip ${where} (no API schema)`); continue; }
    const mod = modules[obj.apiVersion];
    if (!mod) { console.log(`FAIL ${where}: no schema for this apiVersion`); failed++; continue; }
    const Model = (await import(mod))[obj.kind];
    if (!Model) { console.log(`FAIL ${where}: unknown kind`); failed++; continue; }
    const errors = validateStrict(Model, obj);
    if (errors.length) { console.log(`FAIL ${where}: ${errors.join(", ")}`); failed++; }
    else console.log(`ok   ${where}`);
    // A ConfigMap mounted with subPath never sees updates: LbProxy's config must be a directory mount.
    const pod = obj.spec?.template?.spec;
    if (pod) {
      const fromConfigMap = new Set((pod.volumes ?? []).filter(v => v.configMap).map(v => v.name));
      for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
        for (const m of c.volumeMounts ?? []) {
          if (fromConfigMap.has(m.name)) {
            const ok = !m.subPath && !m.subPathExpr;
            console.log(`${ok ? "ok  " : "FAIL"} ${where}: ${c.name} mounts ConfigMap volume ${m.name} at ${m.mountPath} ${ok ? "as a directory" : "with subPath"}`);
            if (!ok) failed++;
          }
        }
      }
    }
  }
}
process.exit(failed ? 1 : 0);
