import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
// mailauth is CommonJS: its DKIM verifier, the one receivers use, with DNS answered from `records`.
const { dkimVerify } = require('mailauth/lib/dkim/verify') as {
  dkimVerify(
    raw: Buffer,
    options: { resolver: (name: string, type: string) => Promise<string[][]> },
  ): Promise<{
    results: Array<{
      signingDomain: string;
      selector: string;
      status: { result: string; comment?: string; aligned?: string | false };
      signingHeaders: { keys: string };
    }>;
  }>;
};

/** Verifies a raw mail's DKIM signatures against TXT records given as name → value. */
export async function verifyDkim(raw: Buffer, records: Record<string, string>) {
  const resolver = async (name: string, type: string) => {
    const value = records[name.toLowerCase()];
    if (type !== 'TXT' || value === undefined)
      throw Object.assign(new Error(`no ${type} ${name}`), { code: 'ENOTFOUND' });
    return [[value]];
  };
  return (await dkimVerify(raw, { resolver })).results;
}
