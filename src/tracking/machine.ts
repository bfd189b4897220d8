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
  readonly machine: boolean;
  readonly reason?: string;
  readonly proxy?: string;
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

/** What a user agent alone says, with the signals it can lead to (shared, frozen: never mutate). */
interface Agent {
  appleAgent: boolean;
  /** Set when the agent alone makes an open a machine one (Yahoo prefetch, tools). */
  openByAgent: MachineSignal | null;
  tool: boolean;
  apple: MachineSignal;
  onDelivery: MachineSignal;
  human: MachineSignal;
}

const signal = (machine: boolean, reason?: string, proxy?: string): MachineSignal =>
  Object.freeze({ machine, ...(reason ? { reason } : {}), ...(proxy ? { proxy } : {}) });

function readAgent(raw: string): Agent {
  const ua = raw.trim();
  const proxy = /GoogleImageProxy/i.test(ua) ? 'gmail' : /YahooMailProxy/i.test(ua) ? 'yahoo' : undefined;
  const tool = ua === '' || TOOL_AGENT.test(ua);
  return {
    appleAgent: ua === 'Mozilla/5.0',
    openByAgent:
      proxy === 'yahoo'
        ? signal(true, 'yahoo_prefetch', proxy)
        : tool
          ? signal(true, 'tool_agent', proxy)
          : null,
    tool,
    apple: signal(true, 'apple_mpp', proxy),
    onDelivery: signal(true, 'on_delivery', proxy),
    human: signal(false, undefined, proxy),
  };
}

// Pixels and links are fetched by a few distinct clients over and over: reading the user agent
// (a long regular expression) once per distinct string keeps it off the per-request cost.
const agents = new Map<string, Agent>();
const MAX_AGENTS = 1000;

function agentOf(userAgent: string | undefined): Agent {
  const key = userAgent ?? '';
  let agent = agents.get(key);
  if (!agent) {
    if (agents.size >= MAX_AGENTS) agents.clear();
    agent = readAgent(key);
    agents.set(key, agent);
  }
  return agent;
}

const HEAD_REQUEST = signal(true, 'head_request');
const TOOL_CLICK = signal(true, 'tool_agent');
const SCAN_CLICK = signal(true, 'on_delivery');
const HUMAN_CLICK = signal(false);

/** Whether a pixel fetch was a proxy's prefetch or a person opening the mail. */
export function classifyOpen(facts: RequestFacts): MachineSignal {
  const agent = agentOf(facts.userAgent);
  if (agent.appleAgent || isApple(facts.ip)) return agent.apple;
  if (agent.openByAgent) return agent.openByAgent;
  const since = secondsSinceSent(facts);
  if (since !== null && since < OPEN_PREFETCH_SECONDS) return agent.onDelivery;
  return agent.human;
}

/** Whether a click was a link scanner or a person. */
export function classifyClick(facts: RequestFacts): MachineSignal {
  if (facts.method === 'HEAD') return HEAD_REQUEST;
  if (agentOf(facts.userAgent).tool) return TOOL_CLICK;
  const since = secondsSinceSent(facts);
  if (since !== null && since < CLICK_SCAN_SECONDS) return SCAN_CLICK;
  return HUMAN_CLICK;
}
