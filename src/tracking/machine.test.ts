import { describe, expect, it } from 'vitest';
import { classifyClick, classifyOpen } from './machine.js';

const sentAt = new Date('2026-01-01T10:00:00Z');
const later = new Date('2026-01-01T12:00:00Z');
const BROWSER =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';
const base = { userAgent: BROWSER, ip: '203.0.113.9', method: 'GET', sentAt, at: later };

describe('classifyOpen', () => {
  it('takes a browser open hours after sending as human', () => {
    expect(classifyOpen(base)).toEqual({ machine: false });
  });

  it('flags Apple MPP by its bare user agent or Apple addresses, and Yahoo prefetches', () => {
    expect(classifyOpen({ ...base, userAgent: 'Mozilla/5.0' })).toMatchObject({
      machine: true,
      reason: 'apple_mpp',
    });
    expect(classifyOpen({ ...base, ip: '17.58.1.2' })).toMatchObject({ machine: true, reason: 'apple_mpp' });
    expect(
      classifyOpen({
        ...base,
        userAgent: 'YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html',
      }),
    ).toMatchObject({ machine: true, proxy: 'yahoo' });
  });

  it('keeps Gmail proxy opens human (fetched when the person opens) but names the proxy', () => {
    const ua = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
    expect(classifyOpen({ ...base, userAgent: ua })).toEqual({ machine: false, proxy: 'gmail' });
  });

  it('flags opens on delivery and tool agents', () => {
    expect(classifyOpen({ ...base, at: new Date(sentAt.getTime() + 1000) })).toMatchObject({
      reason: 'on_delivery',
    });
    expect(classifyOpen({ ...base, userAgent: undefined })).toMatchObject({ reason: 'tool_agent' });
  });
});

describe('classifyClick', () => {
  it('flags scanners: HEAD requests, tool agents, clicks within seconds of delivery', () => {
    expect(classifyClick(base)).toEqual({ machine: false });
    expect(classifyClick({ ...base, method: 'HEAD' })).toMatchObject({ reason: 'head_request' });
    expect(classifyClick({ ...base, userAgent: 'python-requests/2.31' })).toMatchObject({
      reason: 'tool_agent',
    });
    expect(classifyClick({ ...base, userAgent: 'Barracuda Sentinel (EE)' })).toMatchObject({ machine: true });
    expect(classifyClick({ ...base, at: new Date(sentAt.getTime() + 5000) })).toMatchObject({
      reason: 'on_delivery',
    });
  });
});
