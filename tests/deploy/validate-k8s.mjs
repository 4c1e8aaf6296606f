// node validate-k8s.mjs FILE... : every document validated against the Kubernetes API schemas that the
// npm package kubernetes-models carries (precompiled, offline). Exit 1 on any error.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const modules = {
  "v1": "kubernetes-models/v1",
  "apps/v1": "kubernetes-models/apps/v1",
  "autoscaling/v2": "kubernetes-models/autoscaling/v2",
  "policy/v1": "kubernetes-models/policy/v1",
  "monitoring.coreos.com/v1": "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1",
};
let failed = 0;
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) { console.log(`FAIL ${file}: ${doc.errors[0].message}`); failed++; continue; }
    const obj = doc.toJS();
    if (!obj) continue;
    const where = `${file}: ${obj.apiVersion} ${obj.kind} ${obj.metadata?.name ?? ""}`;
    if (obj.apiVersion?.startsWith("kustomize.config.k8s.io/")) { console.log(`skip ${where} (no API schema)`); continue; }
    const mod = modules[obj.apiVersion];
    if (!mod) { console.log(`FAIL ${where}: no schema for this apiVersion`); failed++; continue; }
    const Model = (await import(mod))[obj.kind];
    if (!Model) { console.log(`FAIL ${where}: unknown kind`); failed++; continue; }
    try { new Model(obj).validate(); console.log(`ok   ${where}`); }
    catch (e) { console.log(`FAIL ${where}: ${e.message}`); failed++; }
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
