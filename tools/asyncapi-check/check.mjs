// Validates AsyncAPI documents with the official parser (@asyncapi/parser, pinned in
// package.json). Usage: node check.mjs FILE...   Exit status 1 when any document has
// an error-level diagnostic (warnings are printed, not fatal).
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error("usage: node check.mjs FILE...");
  process.exit(2);
}
const parser = new Parser();
let failed = false;
for (const file of files) {
  const text = await readFile(file, "utf8");
  const { document, diagnostics } = await parser.parse(text, { source: file });
  const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
  const warnings = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Warning);
  for (const d of diagnostics) {
    if (d.severity > DiagnosticSeverity.Warning) continue;
    const level = d.severity === DiagnosticSeverity.Error ? "error" : "warning";
    console.log(`${file}: ${level} ${d.code}: ${d.message} at /${d.path.join("/")}`);
  }
  console.log(`${file}: ${errors.length} error(s), ${warnings.length} warning(s)`);
  if (errors.length > 0 || document === undefined) failed = true;
}
process.exit(failed ? 1 : 0);
