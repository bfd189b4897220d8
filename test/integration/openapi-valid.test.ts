import SwaggerParser from '@apidevtools/swagger-parser';
import type { OpenAPIV3_1 } from 'openapi-types';
import openapiTS, { astToString } from 'openapi-typescript';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHarness, type Harness, json } from '../helpers/harness.js';

/*
 * The served /openapi.json is what integrators generate clients from: a real validator must
 * accept it (every $ref resolves, every schema is valid OpenAPI 3.1) and a real generator must
 * turn it into TypeScript types.
 */
let h: Harness;
let doc: OpenAPIV3_1.Document;
beforeAll(async () => {
  h = await createHarness();
  const res = await h.get('/openapi.json', { role: null });
  expect(res.status).toBe(200);
  doc = await json(res);
});
afterAll(async () => h?.close());

/** Every `$ref` in the document, with the JSON path where it appears. */
function refsOf(value: unknown, path = '#'): { ref: string; at: string }[] {
  const out: { ref: string; at: string }[] = [];
  const stack: { node: unknown; at: string }[] = [{ node: value, at: path }];
  while (stack.length) {
    const { node, at } = stack.pop() as { node: unknown; at: string };
    if (node === null || typeof node !== 'object') continue;
    for (const [key, child] of Object.entries(node)) {
      if (key === '$ref' && typeof child === 'string') out.push({ ref: child, at });
      else stack.push({ node: child, at: `${at}/${key}` });
    }
  }
  return out;
}

describe('/openapi.json', () => {
  it('defines every schema it references', () => {
    const schemas = doc.components?.schemas ?? {};
    const missing = refsOf(doc)
      .filter(({ ref }) => ref.startsWith('#/components/schemas/'))
      .filter(
        ({ ref }) => !Object.hasOwn(schemas, decodeURIComponent(ref.slice('#/components/schemas/'.length))),
      )
      .map(({ ref, at }) => `${ref} at ${at}`);
    expect(missing).toEqual([]);
  });

  it('is valid for @apidevtools/swagger-parser', async () => {
    const api = await SwaggerParser.validate(structuredClone(doc) as never);
    expect(api.info.title).toBe('Offerflow API');
  });

  it('generates TypeScript types with openapi-typescript', async () => {
    const ast = await openapiTS(structuredClone(doc) as never);
    const types = astToString(ast);
    expect(types).toContain('export interface paths');
    expect(types).toContain('"/v1/purchases"');
    expect(types).toContain('PurchaseInput');
    // The generated module is valid TypeScript.
    const out = ts.transpileModule(types, { reportDiagnostics: true, compilerOptions: { strict: true } });
    expect(out.diagnostics?.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'))).toEqual([]);
  });
});
