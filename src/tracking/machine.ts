/**
 * Heuristics for events that no person caused. They are kept (with `machine = true` and the
 * reason in `data.machine_reason`) and left out of the human rates by default.
 *
 * - Apple Mail Privacy Protection prefetches every pixel through Apple's proxies: the user
 *   agent is the bare `Mozilla/5.0`, and the address is in Apple's 17.0.0.0/8.
 * - Yahoo's image proxy caches images when the mail arrives.
 * - Security gateways (Microsoft Defender Safe Links, Proofpoint, Mimecast, Barracuda...) and
 *   scripts follow every link, mostly within seconds of delivery, often with HEAD requests or
 *   tool user agents.
 * - The Gmail image proxy is NOT flagged: it fetches when the person opens the mail (it only
 *   hides their address), so its opens are human; the proxy name is kept in `data.proxy`.
 */
export interface MachineSignal {
  machine: boolean;
  reason?: string;
  proxy?: string;
}

export interface RequestFacts {
  userAgent: string | undefined;
  ip: string | undefined;
  method: string;
  sentAt: Date | null;
  at: Date;
}

/** Events this soon after sending are taken as delivery-time prefetches or link scans. */
export const OPEN_PREFETCH_SECONDS = 2;
export const CLICK_SCAN_SECONDS = 10;

const TOOL_AGENT =
  /bot\b|crawler|spider|scanner|preview|python|curl|wget|go-http-client|java\/|okhttp|libwww|httpclient|headless|phantomjs|barracuda|mimecast|proofpoint|safelinks|symantec|trendmicro|forcepoint|fortiguard|cisco|ironport|sophos|zscaler|microsoft office existence discovery|skypeuripreview/i;

function isApple(ip: string | undefined): boolean {
  return !!ip && /^(::ffff:)?17\./.test(ip);
}

function secondsSinceSent(facts: RequestFacts): number | null {
  return facts.sentAt ? (facts.at.getTime() - facts.sentAt.getTime()) / 1000 : null;
}

/** Whether a pixel fetch was a proxy's prefetch or a person opening the mail. */
export function classifyOpen(facts: RequestFacts): MachineSignal {
  const ua = facts.userAgent?.trim() ?? '';
  const proxy = /GoogleImageProxy/i.test(ua) ? 'gmail' : /YahooMailProxy/i.test(ua) ? 'yahoo' : undefined;
  const withProxy = (signal: MachineSignal): MachineSignal => (proxy ? { ...signal, proxy } : signal);
  if (ua === 'Mozilla/5.0' || isApple(facts.ip)) return withProxy({ machine: true, reason: 'apple_mpp' });
  if (proxy === 'yahoo') return withProxy({ machine: true, reason: 'yahoo_prefetch' });
  if (ua === '' || TOOL_AGENT.test(ua)) return withProxy({ machine: true, reason: 'tool_agent' });
  const since = secondsSinceSent(facts);
  if (since !== null && since < OPEN_PREFETCH_SECONDS)
    return withProxy({ machine: true, reason: 'on_delivery' });
  return withProxy({ machine: false });
}

/** Whether a click was a link scanner or a person. */
export function classifyClick(facts: RequestFacts): MachineSignal {
  const ua = facts.userAgent?.trim() ?? '';
  if (facts.method === 'HEAD') return { machine: true, reason: 'head_request' };
  if (ua === '' || TOOL_AGENT.test(ua)) return { machine: true, reason: 'tool_agent' };
  const since = secondsSinceSent(facts);
  if (since !== null && since < CLICK_SCAN_SECONDS) return { machine: true, reason: 'on_delivery' };
  return { machine: false };
}
