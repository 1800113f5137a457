// Parse Mermaid text from stdin with Mermaid's own parser (the one GitHub's renderer runs), no browser:
// jsdom stands in for the DOM that mermaid's sanitiser (DOMPurify) needs at import time.
// Exit 0 and print the diagram type, or exit 1 and print the parse error. Run by tests/mermaid_parser.py.
import { readFileSync } from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
try {
  const result = await mermaid.parse(readFileSync(0, 'utf8'));
  console.log(result.diagramType);
} catch (error) {
  console.error(String(error?.message ?? error));
  process.exit(1);
}
