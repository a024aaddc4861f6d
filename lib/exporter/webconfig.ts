/**
 * `--web.config.file`: TLS and basic authentication from a YAML file in the format of the
 * Prometheus exporters (node_exporter's exporter-toolkit), so one file serves both. Like
 * theirs, it is checked again at every request: a changed password, or a renewed certificate
 * file, takes effect without a restart (whether TLS is on, and the client-certificate policy,
 * are fixed at start).
 *
 * ```yaml
 * tls_server_config:
 *   cert_file: server.crt          # relative to this file
 *   key_file: server.key
 *   client_auth_type: RequireAndVerifyClientCert   # optional, with client_ca_file
 *   client_ca_file: clients.crt
 *   min_version: TLS12             # TLS10 … TLS13
 * http_server_config:
 *   headers: { … }                 # Strict-Transport-Security, X-Frame-Options, …
 * basic_auth_users:
 *   prometheus: $2y$10$…           # bcrypt (htpasswd -nBC 10 "" | tr -d ':\n')
 * ```
 * Settings that cannot be honoured here (`cipher_suites`, `curve_preferences`,
 * `client_allowed_sans`, `rate_limit`) are refused rather than ignored.
 * @module
 */
import { readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type { SecureVersion } from 'node:tls';
import { SockdiagError } from '../errors';
import { isBcryptHash } from './bcrypt';
import { parseYaml, type YamlValue } from './yaml';

/** Go's client-certificate policies, as the file names them. */
export type ClientAuthType = 'NoClientCert' | 'RequestClientCert' | 'RequireAnyClientCert' | 'VerifyClientCertIfGiven' | 'RequireAndVerifyClientCert';
const CLIENT_AUTH: readonly ClientAuthType[] = ['NoClientCert', 'RequestClientCert', 'RequireAnyClientCert', 'VerifyClientCertIfGiven', 'RequireAndVerifyClientCert'];
const VERSIONS: Readonly<Record<string, SecureVersion>> = { TLS10: 'TLSv1', TLS11: 'TLSv1.1', TLS12: 'TLSv1.2', TLS13: 'TLSv1.3' };
const HEADERS = ['Content-Security-Policy', 'X-Frame-Options', 'X-Content-Type-Options', 'X-XSS-Protection', 'Strict-Transport-Security'];

/** The TLS part of a web config. */
export interface TlsSettings {
  /** Server certificate chain (PEM). */
  cert: string;
  /** Its private key (PEM). */
  key: string;
  /** CAs that client certificates must chain to (PEM). */
  ca?: string;
  /** Client-certificate policy (default NoClientCert). */
  clientAuth: ClientAuthType;
  /** Lowest TLS version (default TLSv1.2). */
  minVersion: SecureVersion;
  /** Highest TLS version (default TLSv1.3). */
  maxVersion: SecureVersion;
  /** Server's cipher order first (`prefer_server_cipher_suites`, default true). */
  honorCipherOrder: boolean;
}

/** A web config, read and checked. */
export interface WebConfig {
  /** TLS, when the file configures a certificate. */
  tls?: TlsSettings;
  /** User → bcrypt hash; empty: no authentication. */
  users: Map<string, string>;
  /** Headers added to every response. */
  headers: Record<string, string>;
  /** The files read (the config and those it names), for {@link webConfigStamp}. */
  files: string[];
}

/** A web config that cannot be used: the message names the file and the setting. */
export class WebConfigError extends SockdiagError {
  /** Creates the error. */
  constructor(message: string) {
    super(message, 'SOCKDIAG_WEB_CONFIG');
  }
}
Object.defineProperty(WebConfigError.prototype, 'name', { value: 'WebConfigError', enumerable: false, writable: true, configurable: true });

type Mapping = { [key: string]: YamlValue };
const isMapping = (v: YamlValue | undefined): v is Mapping => v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);

/** Reads and checks a web config file; throws a {@link WebConfigError} saying what is wrong. */
export function loadWebConfig(file: string): WebConfig {
  const fail = (what: string): never => {
    throw new WebConfigError(`web config ${file}: ${what}`);
  };
  let doc: YamlValue;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (err) {
    return fail((err as Error).message);
  }
  if (doc === null) doc = {};
  if (!isMapping(doc)) return fail('expected a mapping at the top');
  const files = [file];
  const dir = path.dirname(file);
  const mapping = (v: YamlValue | undefined, where: string, known: readonly string[], refused: readonly string[] = []): Mapping => {
    if (v === null || v === undefined) return {};
    if (!isMapping(v)) return fail(`${where}: expected a mapping`);
    for (const k of Object.keys(v)) {
      if (refused.includes(k)) fail(`${where}.${k} is not supported by sockdiag-exporter`);
      if (!known.includes(k)) fail(`${where}: unknown setting '${k}'`);
    }
    return v;
  };
  const text = (v: YamlValue | undefined, where: string): string | undefined => {
    if (v === null || v === undefined) return undefined;
    if (typeof v !== 'string') return fail(`${where}: expected a string`);
    return v;
  };
  const readNamed = (name: string | undefined, where: string): string | undefined => {
    if (name === undefined) return undefined;
    const p = path.resolve(dir, name);
    files.push(p);
    try {
      return readFileSync(p, 'utf8');
    } catch (err) {
      return fail(`${where}: cannot read ${p}: ${(err as Error).message}`);
    }
  };
  // One of FIELD (inline PEM) or FIELD_file.
  const pem = (m: Mapping, field: string, where: string): string | undefined => {
    const inline = text(m[field], `${where}.${field}`);
    const named = text(m[`${field}_file`], `${where}.${field}_file`);
    if (inline !== undefined && named !== undefined) fail(`${where}: give ${field} or ${field}_file, not both`);
    return inline ?? readNamed(named, `${where}.${field}_file`);
  };

  const top = mapping(doc, 'the file', ['tls_server_config', 'http_server_config', 'basic_auth_users'], ['rate_limit']);

  let tls: TlsSettings | undefined;
  const t = mapping(top.tls_server_config, 'tls_server_config', ['cert', 'key', 'cert_file', 'key_file', 'client_ca', 'client_ca_file', 'client_auth_type', 'min_version', 'max_version', 'prefer_server_cipher_suites'], ['cipher_suites', 'curve_preferences', 'client_allowed_sans']);
  if (Object.keys(t).length > 0) {
    const where = 'tls_server_config';
    const cert = pem(t, 'cert', where);
    const key = pem(t, 'key', where);
    if (cert === undefined) fail(`${where}: cert_file (or cert) is required`);
    if (key === undefined) fail(`${where}: key_file (or key) is required`);
    const ca = pem(t, 'client_ca', where);
    const clientAuth = (text(t.client_auth_type, `${where}.client_auth_type`) ?? 'NoClientCert') as ClientAuthType;
    if (!CLIENT_AUTH.includes(clientAuth)) fail(`${where}.client_auth_type: expected one of ${CLIENT_AUTH.join(', ')}, got '${clientAuth}'`);
    if ((clientAuth === 'RequireAndVerifyClientCert' || clientAuth === 'VerifyClientCertIfGiven') && ca === undefined) fail(`${where}: client_auth_type ${clientAuth} needs client_ca_file (or client_ca)`);
    const version = (field: 'min_version' | 'max_version', dflt: string): SecureVersion => {
      const v = text(t[field], `${where}.${field}`) ?? dflt;
      return VERSIONS[v] ?? fail(`${where}.${field}: expected one of ${Object.keys(VERSIONS).join(', ')}, got '${v}'`);
    };
    const prefer = text(t.prefer_server_cipher_suites, `${where}.prefer_server_cipher_suites`) ?? 'true';
    if (prefer !== 'true' && prefer !== 'false') fail(`${where}.prefer_server_cipher_suites: expected true or false`);
    tls = { cert: cert as string, key: key as string, clientAuth, minVersion: version('min_version', 'TLS12'), maxVersion: version('max_version', 'TLS13'), honorCipherOrder: prefer === 'true', ...(ca === undefined ? {} : { ca }) };
  }

  const h = mapping(top.http_server_config, 'http_server_config', ['http2', 'headers']);
  if (h.http2 !== undefined && h.http2 !== null && h.http2 !== 'true' && h.http2 !== 'false') fail('http_server_config.http2: expected true or false');
  const headers: Record<string, string> = {};
  for (const [name, v] of Object.entries(mapping(h.headers, 'http_server_config.headers', HEADERS))) {
    const value = text(v, `http_server_config.headers.${name}`);
    if (value !== undefined && value !== '') headers[name] = value;
  }

  const users = new Map<string, string>();
  for (const [user, v] of Object.entries(mapping(top.basic_auth_users, 'basic_auth_users', Object.keys(top.basic_auth_users ?? {})))) {
    const hash = text(v, `basic_auth_users.${user}`);
    if (hash === undefined || !isBcryptHash(hash)) fail(`basic_auth_users.${user}: expected a bcrypt hash ($2a$, $2b$ or $2y$)`);
    users.set(user, hash as string);
  }
  return { ...(tls === undefined ? {} : { tls }), users, headers, files };
}

/** What changes when any file of the config is rewritten (inode, size, modification time). */
export function webConfigStamp(files: readonly string[]): string {
  return files
    .map((f) => {
      try {
        const s = statSync(f);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return '-';
      }
    })
    .join(' ');
}
