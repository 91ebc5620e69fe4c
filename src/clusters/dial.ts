import type { Login, SslMode } from '../config/schema.js';
import type { ConnectTarget, Endpoint } from '../postgres/connect.js';

/** config `hostOverrides`: exact host name or `*.suffix` -> address, optionally `address:port`. */
export type HostOverrides = Readonly<Record<string, string>>;

export interface DialOptions {
  login: Login;
  database: string;
  ssl?: SslMode;
  hostOverrides?: HostOverrides;
}

/**
 * The ConnectTarget pgshift dials for a cluster endpoint. Every connection to a cluster
 * goes through here, so that `hostOverrides` (SSH tunnels, bastions, the lab's
 * loopback names) apply everywhere alike. The login is referenced, never copied, so
 * its non-enumerable password stays readable.
 */
export function buildConnectTarget(endpoint: Endpoint, options: DialOptions): ConnectTarget {
  return {
    endpoint: resolveEndpoint(endpoint, options.hostOverrides ?? {}),
    database: options.database,
    login: options.login,
    ...(options.ssl === undefined ? {} : { ssl: options.ssl }),
  };
}

/**
 * Applies the first matching override: an exact name wins over wildcards, and a longer
 * `*.suffix` over a shorter one. Names compare case-insensitively without a trailing
 * dot; `*.example.com` matches `a.example.com` and `a.b.example.com`, not `example.com`
 * (as DNS wildcards do).
 */
export function resolveEndpoint(endpoint: Endpoint, overrides: HostOverrides): Endpoint {
  const host = normaliseHost(endpoint.host);
  let chosen: string | undefined;
  let chosenSuffixLength = -1;
  for (const [pattern, address] of Object.entries(overrides)) {
    const name = normaliseHost(pattern);
    if (name === host) {
      chosen = address;
      break;
    }
    if (name.startsWith('*.')) {
      const suffix = name.slice(1);
      if (host.endsWith(suffix) && host.length > suffix.length && suffix.length > chosenSuffixLength) {
        chosen = address;
        chosenSuffixLength = suffix.length;
      }
    }
  }
  if (chosen === undefined) return { host: endpoint.host, port: endpoint.port };
  return parseAddress(chosen, endpoint.port);
}

function normaliseHost(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

/** `10.0.0.5`, `10.0.0.5:6432`, `tunnel.local:6432`, `[::1]:6432` or `::1`. */
function parseAddress(address: string, defaultPort: number): Endpoint {
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(address);
  if (bracketed) return { host: bracketed[1]!, port: bracketed[2] === undefined ? defaultPort : Number(bracketed[2]) };
  const withPort = /^([^:]+):(\d+)$/.exec(address);
  if (withPort) return { host: withPort[1]!, port: Number(withPort[2]) };
  return { host: address, port: defaultPort };
}
