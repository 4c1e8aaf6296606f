// node yaml-to-json.mjs FILE... : prints one JSON array of every document of every file, in order, each as
// {"file": FILE, "doc": <the document>}, so that the C# tests read the manifests with a real YAML parser.
import { readFileSync } from "node:fs";
import { parseAllDocuments } from "yaml";

const out = [];
for (const file of process.argv.slice(2)) {
  for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
    if (doc.errors.length) { console.error(`${file}: ${doc.errors[0].message}`); process.exit(1); }
    const obj = doc.toJS();
    if (obj) out.push({ file, doc: obj });
  }
}
console.log(JSON.stringify(out));
