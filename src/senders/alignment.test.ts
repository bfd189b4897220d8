import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { dkimAligned } from './alignment.js';

const label = fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/);
const domain = fc
  .tuple(label, fc.constantFrom('com', 'fr', 'co.uk', 'de', 'example'))
  .map(([l, tld]) => `${l}.${tld}`);

describe('dkimAligned (DMARC relaxed alignment)', () => {
  it('a From subdomain aligns with its organizational domain, either way round, in any case', () => {
    fc.assert(
      fc.property(domain, fc.array(label, { maxLength: 3 }), (org, subs) => {
        const sub = [...subs, org].join('.');
        expect(dkimAligned(sub, org)).toBe(true);
        expect(dkimAligned(org, sub)).toBe(true);
        expect(dkimAligned(sub.toUpperCase(), org)).toBe(true);
      }),
    );
  });

  it('two different registrable domains never align, whatever subdomains they carry', () => {
    fc.assert(
      fc.property(domain, domain, fc.array(label, { maxLength: 2 }), (a, b, subs) => {
        fc.pre(a !== b);
        expect(dkimAligned([...subs, a].join('.'), b)).toBe(false);
      }),
    );
  });

  it('a public suffix is nobody’s organizational domain', () => {
    expect(dkimAligned('shop.co.uk', 'co.uk')).toBe(false);
    expect(dkimAligned('shop.co.uk', 'other.co.uk')).toBe(false);
    expect(dkimAligned('news.shop.co.uk', 'shop.co.uk')).toBe(true);
  });
});
