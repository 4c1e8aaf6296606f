// node lint-dockerfile.mjs Dockerfile : dockerfile-utils' validator (the one behind VS Code's Dockerfile support)
import { readFileSync } from "node:fs";
import { validate } from "dockerfile-utils";
const text = readFileSync(process.argv[2], "utf8");
const problems = validate(text);
for (const p of problems) console.log(`${p.severity === 1 ? "error" : "warning"} ${process.argv[2]}:${p.range.start.line + 1}: ${p.message}`);
process.exit(problems.some(p => p.severity === 1) ? 1 : 0);
