import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { afterAll, describe, expect, it } from 'vitest';

// `offerflow sink`, run as a user would: the command starts, takes a mail over SMTP, keeps it as
// <Message-ID>.eml, and stops on SIGTERM saying how many it took.

const outbox = mkdtempSync(join(tmpdir(), 'offerflow-sink-'));
afterAll(() => rmSync(outbox, { recursive: true, force: true }));

describe('offerflow sink', () => {
  it('keeps each mail it accepts as an .eml file, and stops cleanly', async () => {
    const child = spawn(process.execPath, ['bin/offerflow.js', 'sink', '--port', '0', '--outbox', outbox], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no sink started: ${stdout}`)), 20_000);
      child.stdout.on('data', () => {
        const match = /SMTP sink on (smtp:\/\/[^,\s]+)/.exec(stdout);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    const transport = nodemailer.createTransport(url);
    await transport.sendMail({
      from: 'shop@example.test',
      to: 'ana@example.test',
      subject: 'Hello from the test',
      text: 'Kept as a file.',
      messageId: '<m1.c2@shop.example.test>',
    });
    transport.close();
    expect(readdirSync(outbox)).toEqual(['m1.c2@shop.example.test.eml']);
    expect(readFileSync(join(outbox, 'm1.c2@shop.example.test.eml'), 'utf8')).toContain(
      'Subject: Hello from the test',
    );
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    expect(stdout).toContain('1 mail(s) accepted');
  });
});
