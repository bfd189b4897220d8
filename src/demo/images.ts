import { deflateSync } from 'node:zlib';
import type { App } from '../http/env.js';

// The demo's offer pictures, drawn here so its mails show real images served by Offerflow
// itself (`/demo/img/{code}.png`), not links to a reserved domain that never answers.

export const DEMO_IMAGE = { width: 1100, height: 550 } as const;

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(data: Buffer): number {
  let c = 0xffffffff;
  for (const byte of data) c = CRC_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

/** The hue of a code: the same offer always gets the same colour. */
function colourOf(code: string): [number, number, number] {
  let h = 0;
  for (const ch of code) h = (h * 31 + ch.charCodeAt(0)) % 360;
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (0.55 - 0.35 * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

/** A PNG (RGB, 8 bits): a colour field with diagonal stripes, the offer's picture placeholder. */
export function demoImagePng(code: string): Buffer {
  const { width, height } = DEMO_IMAGE;
  const [r, g, b] = colourOf(code);
  const row = width * 3 + 1;
  const raw = Buffer.alloc(row * height);
  for (let y = 0; y < height; y++) {
    raw[y * row] = 0;
    for (let x = 0; x < width; x++) {
      const stripe = ((x + y) >> 5) % 2 === 0 ? 1 : 0.85;
      const i = y * row + 1 + x * 3;
      raw[i] = r * stripe;
      raw[i + 1] = g * stripe;
      raw[i + 2] = b * stripe;
    }
  }
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header[8] = 8;
  header[9] = 2;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** The public path of a demo offer's picture. */
export const demoImagePath = (code: string): string => `/demo/img/${code.toLowerCase()}.png`;

/** `GET /demo/img/{code}.png`: the demo offers' pictures (no personal data, cached a day). */
export function registerDemoImageRoutes(app: App): void {
  const cache = new Map<string, Buffer>();
  app.get('/demo/img/:file{[a-z0-9-]{1,40}\\.png}', (c) => {
    const code = c.req.param('file').slice(0, -4);
    let png = cache.get(code);
    if (!png) {
      png = demoImagePng(code);
      if (cache.size < 64) cache.set(code, png);
    }
    return c.body(new Uint8Array(png), 200, {
      'content-type': 'image/png',
      'cache-control': 'public, max-age=86400',
    });
  });
}
