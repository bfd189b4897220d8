import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runUploadedImport } from '../../src/imports/run.js';
import { createHarness, type Harness, json } from '../helpers/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await createHarness();
});
afterAll(async () => h.close());

const sofa = {
  sku: 'SOFA-1',
  title: { en: 'Three-seat sofa', fr: 'Canapé trois places' },
  description: 'Grey wool',
  price: 899.9,
  currency: 'EUR',
  category: 'furniture',
  brand: 'Nord',
  image_url: 'https://shop.example/sofa.jpg',
  url: 'https://shop.example/sofa',
  stock: 4,
  margin: 0.32,
  colour: 'grey',
};

describe('POST /v1/products', () => {
  it('stores one product or many, idempotent on sku, free attributes kept', async () => {
    const first = await h.post('/v1/products', sofa);
    expect(first.status).toBe(201);
    expect(await json(first)).toMatchObject({ created: 1, updated: 0, unchanged: 0 });

    const again = await h.post('/v1/products', [
      sofa,
      { sku: 'CUSH-1', title: 'Cushion', price: 19.5, category: 'textile', in_stock: false },
    ]);
    expect(again.status).toBe(201);
    const body = await json(again);
    expect(body.data.map((d: { status: string }) => d.status)).toEqual(['unchanged', 'created']);

    const changed = await h.post('/v1/products', { ...sofa, price: 799 });
    expect(changed.status).toBe(200);
    expect(await json(changed)).toMatchObject({ updated: 1 });

    const [{ n }] = (await h.db.sql`select count(*)::int as n from products`) as unknown as [{ n: number }];
    expect(n).toBe(2);
    const got = await json(await h.get('/v1/products/SOFA-1'));
    expect(got).toMatchObject({
      sku: 'SOFA-1',
      title: { en: 'Three-seat sofa', fr: 'Canapé trois places' },
      price: 799,
      in_stock: true,
      stock: 4,
      active: true,
      attributes: { colour: 'grey' },
    });
  });

  it('filters the list and pages through it', async () => {
    const inStock = await json(await h.get('/v1/products?in_stock=false'));
    expect(inStock.data.map((p: { sku: string }) => p.sku)).toEqual(['CUSH-1']);
    const furniture = await json(await h.get('/v1/products?category=furniture'));
    expect(furniture.data.map((p: { sku: string }) => p.sku)).toEqual(['SOFA-1']);
    const first = await json(await h.get('/v1/products?limit=1'));
    expect(first.data).toHaveLength(1);
    const second = await json(await h.get(`/v1/products?limit=1&cursor=${first.next_cursor}`));
    expect(second.data[0].sku).not.toBe(first.data[0].sku);
    expect(second.next_cursor).toBeNull();
    expect((await h.get('/v1/products/NOPE')).status).toBe(404);
  });

  it('answers 422 naming each bad field, writing nothing', async () => {
    const res = await h.post('/v1/products', [
      { sku: 'OK-1', title: 'Fine', price: 1 },
      { sku: 'BAD-1', title: 'Bad', price: -1 },
      { sku: 'BAD-2', title: { 'not a locale!': 'x' }, price: 1 },
      { sku: 'BAD-3', title: 'Bad', price: 1, currency: 'XYZ', image_url: 'javascript:alert(1)' },
      { title: 'No sku', price: 1 },
      { sku: 'OK-1', title: 'Twice', price: 1 },
    ]);
    expect(res.status).toBe(422);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    const paths = (await json(res)).errors.map((e: { path: string }) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['1.price', '3.currency', '3.image_url', '4.sku', '5.sku']));
    expect(paths.some((p: string) => p.startsWith('2.title'))).toBe(true);
    expect((await h.get('/v1/products/OK-1')).status).toBe(404);
    expect(
      (await h.post('/v1/products', 'not json', { headers: { 'content-type': 'application/json' } })).status,
    ).toBe(400);
    expect((await h.post('/v1/products', [])).status).toBe(422);
  });
});

describe('a products CSV import', () => {
  it('goes through the import pipeline: the same validation and upsert by sku, bad rows reported by line', async () => {
    const csv = [
      'Référence;Nom;Prix;Catégorie;Marque;Quantité;Actif',
      'LAMP-1;Lampe de chevet;49,90;lighting;Nord;3;oui',
      'LAMP-2;Lampadaire;129;lighting;Nord;0;oui',
      'BAD-1;Sans prix;;lighting;Nord;1;oui',
      'BAD-2;Prix négatif;-5;lighting;Nord;1;peut-être',
      'SOFA-1;Three-seat sofa;799;furniture;Nord;4;oui',
    ].join('\n');
    const res = await h.post('/v1/imports?kind=products&filename=feed.csv', csv, {
      headers: { 'content-type': 'text/csv' },
    });
    expect(res.status, JSON.stringify(await res.clone().json())).toBe(202);
    const created = await json(res);
    const progress = await runUploadedImport({ sql: h.db.sql, clock: () => new Date() }, created.id);
    expect(progress).toMatchObject({ rows: 5, created: 2, failed: 2 });
    const lamp = await json(await h.get('/v1/products/LAMP-1'));
    expect(lamp).toMatchObject({
      title: 'Lampe de chevet',
      price: 49.9,
      stock: 3,
      in_stock: true,
      active: true,
    });
    expect(await json(await h.get('/v1/products/LAMP-2'))).toMatchObject({ stock: 0, in_stock: false });
    const report = await json(await h.get(`/v1/imports/${created.id}`));
    expect(report.status).toBe('done');
    const errors = await h.db
      .sql`select line, "column", reason from import_errors where import_id = ${created.id} order by line`;
    expect(errors.map((e) => [e.line, e.column])).toEqual([
      [4, 'price'],
      [5, 'active'],
    ]);
    expect((await h.get('/v1/products/BAD-1')).status).toBe(404);
  });
});
