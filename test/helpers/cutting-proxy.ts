import net from 'node:net';

export interface CuttingProxy {
  url: string;
  /** Connections cut after a message's DATA, before the server's reply reached the client. */
  cuts: number;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of an SMTP server that, for the first `cutsWanted` messages, lets the
 * whole message (up to DATA's final dot) through to the server and then drops the connection
 * before the server's reply gets back to the client: the server has the mail, the client
 * cannot know it.
 */
export async function startCuttingProxy(target: { host: string; port: number }, cutsWanted: number) {
  const proxy: CuttingProxy = { url: '', cuts: 0, close: async () => {} };
  const open = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    open.add(client).add(upstream);
    client.once('close', () => open.delete(client));
    upstream.once('close', () => open.delete(upstream));
    let tail = '';
    let cut = false;
    upstream.on('data', (chunk) => {
      if (!cut) client.write(chunk);
    });
    client.on('data', (chunk) => {
      upstream.write(chunk);
      const seen = tail + chunk.toString('latin1');
      tail = seen.slice(-4);
      if (!cut && proxy.cuts < cutsWanted && seen.includes('\r\n.\r\n')) {
        cut = true;
        proxy.cuts++;
        client.destroy();
        // The server gets time to take the message and answer into the void.
        setTimeout(() => upstream.destroy(), 500);
      }
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => {
      if (!cut) upstream.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  proxy.url = `smtp://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  proxy.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Pooled client connections stay open while idle: end them, or close() waits for them.
      for (const socket of open) socket.destroy();
    });
  return proxy;
}
