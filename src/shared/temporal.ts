import { readFileSync } from 'node:fs';

/** How to reach Temporal: flags win over environment variables, which win over the local default. */
export interface TemporalOptions {
  address: string;
  namespace: string;
  tlsCertPath?: string;
  tlsKeyPath?: string;
  apiKey?: string;
}

export const DEFAULT_TEMPORAL_ADDRESS = '127.0.0.1:7233';

export function temporalOptionsFromEnv(env: NodeJS.ProcessEnv = process.env, flags: Partial<TemporalOptions> = {}): TemporalOptions {
  return {
    address: flags.address ?? env.TEMPORAL_ADDRESS ?? DEFAULT_TEMPORAL_ADDRESS,
    namespace: flags.namespace ?? env.TEMPORAL_NAMESPACE ?? 'default',
    tlsCertPath: flags.tlsCertPath ?? env.TEMPORAL_TLS_CERT,
    tlsKeyPath: flags.tlsKeyPath ?? env.TEMPORAL_TLS_KEY,
    apiKey: flags.apiKey ?? env.TEMPORAL_API_KEY,
  };
}

/** Options for Connection.connect / NativeConnection.connect. */
export function connectionOptions(o: TemporalOptions) {
  const mtls =
    o.tlsCertPath && o.tlsKeyPath ? { clientCertPair: { crt: readFileSync(o.tlsCertPath), key: readFileSync(o.tlsKeyPath) } } : undefined;
  const tls = mtls ?? (o.apiKey ? true : undefined);
  return { address: o.address, ...(tls ? { tls } : {}), ...(o.apiKey ? { apiKey: o.apiKey } : {}) };
}
