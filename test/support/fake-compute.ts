/**
 * A small stand-in for the Compute Engine REST API (v1), enough for fleet resolution.
 *
 * It speaks the wire protocol the real @google-cloud/compute client uses over its REST
 * transport (observed from the client, not guessed):
 *
 *   POST /compute/v1/projects/{project}/zones/{zone}/instanceGroupManagers/{group}/listManagedInstances?maxResults=&pageToken=
 *   POST /compute/v1/projects/{project}/regions/{region}/instanceGroupManagers/{group}/listManagedInstances?maxResults=&pageToken=
 *   GET  /compute/v1/projects/{project}/zones/{zone}/instances/{name}
 *
 * Bodies have the API's JSON shape (`managedInstances` + `nextPageToken`; an Instance with
 * `status` and `metadata.items`), and unknown resources get Compute's JSON error body
 * (`{"error":{"code":404,"message":"The resource '...' was not found","errors":[...]}}`)
 * with the matching HTTP status. Every request is logged so tests can assert on it.
 *
 * It also answers the GCE metadata server's paths with 404, so that a client that
 * (wrongly) probes for credentials while pointed here, via GCE_METADATA_HOST, shows up in
 * the log instead of reaching a real metadata server.
 */
import dc from 'node:diagnostics_channel';
import { recordingJsonHandler, type RecordedRequest } from './fake-http';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export const FAKE_API_KEY = 'fake-compute-api-key';
export const FAKE_AUTH_PROJECT = 'fake-auth-project';

/** The real API's origin, which resource URLs (selfLink, instance, instanceTemplate) use. */
const API_ORIGIN = 'https://www.googleapis.com/compute/v1';

/** Largest page the real listManagedInstances returns (its maxResults default and cap). */
const API_MAX_RESULTS = 500;

export type { RecordedRequest } from './fake-http';

export interface FakeManagedInstance {
  name: string;
  /** instanceStatus: RUNNING, STOPPING, TERMINATED, PROVISIONING, ... Omitted for a VM still being created. */
  status?: string;
  /** currentAction; NONE by default. */
  currentAction?: string;
  /** Instance template name; becomes a full template URL in version.instanceTemplate. */
  template?: string;
  /** Zone of the VM; for a regional group the VMs spread across zones. Defaults to the group's zone, or <region>-a. */
  zone?: string;
}

export interface FakeVm {
  name: string;
  /** status: RUNNING, STOPPING, TERMINATED, SUSPENDED, ... */
  status: string;
  /** When set, the VM carries the `instance-template` metadata item a MIG-created VM has. */
  template?: string;
}

interface Group {
  project: string;
  scope: { kind: 'zones' | 'regions'; name: string };
  name: string;
  instances: FakeManagedInstance[];
}

interface InjectedError {
  method?: string;
  pathIncludes: string;
  status: number;
  reason: string;
  message: string;
  remaining: number;
}

/** Options for the real client so that it talks to this fake and never to Google. */
// A type alias, not an interface, so it is assignable to the clients' ClientOptions (which has an index signature).
export type FakeComputeClientOptions = {
  apiEndpoint: string;
  port: number;
  protocol: 'http';
  fallback: true;
  /** An API key makes google-auth-library send `x-goog-api-key` instead of fetching a token. */
  apiKey: string;
  /** Set so google-auth-library does not look the project up (env, gcloud, metadata server). */
  projectId: string;
};

let idCounter = 4_000_000_000_000_000_000n;

export class FakeCompute {
  readonly requests: RecordedRequest[] = [];
  /** Server-side page size for listManagedInstances (the real API may return fewer than maxResults). */
  pageSize = API_MAX_RESULTS;

  private readonly groups = new Map<string, Group>();
  private readonly vms = new Map<string, FakeVm & { id: string }>();
  private readonly ids = new Map<string, string>();
  private readonly injected: InjectedError[] = [];

  private constructor(
    private readonly server: http.Server,
    readonly port: number,
  ) {}

  static async start(): Promise<FakeCompute> {
    const server = http.createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    // The handler is attached once the fake exists; nobody knows the port before listen() returns.
    const fake = new FakeCompute(server, (server.address() as AddressInfo).port);
    server.on('request', (req, res) => fake.handle(req, res));
    return fake;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Constructor options for @google-cloud/compute clients (and GceFleetResolver). */
  clientOptions(): FakeComputeClientOptions {
    return {
      apiEndpoint: '127.0.0.1',
      port: this.port,
      protocol: 'http',
      fallback: true,
      apiKey: FAKE_API_KEY,
      projectId: FAKE_AUTH_PROJECT,
    };
  }

  addZonalGroup(project: string, zone: string, name: string, instances: FakeManagedInstance[]): void {
    this.groups.set(groupKey(project, 'zones', zone, name), { project, scope: { kind: 'zones', name: zone }, name, instances });
  }

  addRegionalGroup(project: string, region: string, name: string, instances: FakeManagedInstance[]): void {
    this.groups.set(groupKey(project, 'regions', region, name), { project, scope: { kind: 'regions', name: region }, name, instances });
  }

  addVm(project: string, zone: string, vm: FakeVm): void {
    this.vms.set(`${project}/${zone}/${vm.name}`, { ...vm, id: this.idOf(`${project}/${zone}/${vm.name}`) });
  }

  /** The next `times` requests whose path contains `pathIncludes` fail with this status. */
  failRequests(
    pathIncludes: string,
    status: number,
    reason: string,
    message: string,
    opts: { method?: string; times?: number } = {},
  ): void {
    this.injected.push({ pathIncludes, status, reason, message, method: opts.method, remaining: opts.times ?? Number.POSITIVE_INFINITY });
  }

  /** Requests that were not for the Compute API (e.g. metadata server probes). */
  nonComputeRequests(): RecordedRequest[] {
    return this.requests.filter((r) => !r.path.startsWith('/compute/v1/'));
  }

  clearRequests(): void {
    this.requests.length = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private idOf(key: string): string {
    let id = this.ids.get(key);
    if (!id) {
      id = String(idCounter++);
      this.ids.set(key, id);
    }
    return id;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    recordingJsonHandler(
      this.requests,
      (r) => this.route(r),
      (err) => googleError(500, 'backendError', `fake-compute: ${err.message}`),
    )(req, res);
  }

  private route(r: RecordedRequest): [number, unknown] {
    const injected = this.injected.find((e) => e.remaining > 0 && r.path.includes(e.pathIncludes) && (!e.method || e.method === r.method));
    if (injected) {
      injected.remaining--;
      return googleError(injected.status, injected.reason, injected.message);
    }
    if (r.path.startsWith('/computeMetadata/')) {
      return [404, { error: { code: 404, message: 'fake-compute is not a metadata server' } }];
    }
    const parts = r.path.split('/').filter((p) => p !== '');
    // compute v1 projects {p} zones|regions {z} instanceGroupManagers {g} listManagedInstances
    if (
      parts.length === 9 &&
      parts[0] === 'compute' &&
      parts[1] === 'v1' &&
      parts[2] === 'projects' &&
      (parts[4] === 'zones' || parts[4] === 'regions') &&
      parts[6] === 'instanceGroupManagers' &&
      parts[8] === 'listManagedInstances'
    ) {
      if (r.method !== 'POST') return methodNotAllowed(r);
      const [, , , project, scopeKind, scopeName, , group] = parts as [
        string,
        string,
        string,
        string,
        'zones' | 'regions',
        string,
        string,
        string,
      ];
      return this.listManagedInstances(r, project, scopeKind, scopeName, group);
    }
    if (
      parts.length === 8 &&
      parts[0] === 'compute' &&
      parts[1] === 'v1' &&
      parts[2] === 'projects' &&
      parts[4] === 'zones' &&
      parts[6] === 'instances'
    ) {
      if (r.method !== 'GET') return methodNotAllowed(r);
      const [, , , project, , zone, , name] = parts as [string, string, string, string, string, string, string, string];
      return this.getInstance(project, zone, name);
    }
    return googleError(404, 'notFound', `fake-compute: no such API method: ${r.method} ${r.path}`);
  }

  private listManagedInstances(
    r: RecordedRequest,
    project: string,
    scopeKind: 'zones' | 'regions',
    scopeName: string,
    name: string,
  ): [number, unknown] {
    const resource = `projects/${project}/${scopeKind}/${scopeName}/instanceGroupManagers/${name}`;
    const group = this.groups.get(groupKey(project, scopeKind, scopeName, name));
    if (!group) return googleError(404, 'notFound', `The resource '${resource}' was not found`);

    let maxResults = API_MAX_RESULTS;
    if (r.query.maxResults !== undefined) {
      maxResults = Number(r.query.maxResults);
      if (!Number.isInteger(maxResults) || maxResults < 0 || maxResults > API_MAX_RESULTS) {
        return googleError(
          400,
          'invalid',
          `Invalid value for field 'maxResults': '${r.query.maxResults}'. Must be less than or equal to ${API_MAX_RESULTS}`,
        );
      }
      if (maxResults === 0) maxResults = API_MAX_RESULTS;
    }
    let offset = 0;
    if (r.query.pageToken) {
      const decoded = decodePageToken(r.query.pageToken);
      if (!decoded || decoded.resource !== resource || decoded.offset > group.instances.length) {
        return googleError(400, 'invalid', `Invalid value for field 'pageToken': '${r.query.pageToken}'.`);
      }
      offset = decoded.offset;
    }
    const size = Math.min(maxResults, this.pageSize);
    const page = group.instances.slice(offset, offset + size);
    const next = offset + page.length;
    const body: Record<string, unknown> = {};
    // Like the API, an empty page has no managedInstances field at all.
    if (page.length > 0) body.managedInstances = page.map((mi) => this.managedInstanceJson(group, mi));
    if (next < group.instances.length) body.nextPageToken = encodePageToken(resource, next);
    return [200, body];
  }

  private managedInstanceJson(group: Group, mi: FakeManagedInstance): unknown {
    const zone = mi.zone ?? (group.scope.kind === 'zones' ? group.scope.name : `${group.scope.name}-a`);
    const json: Record<string, unknown> = {
      instance: `${API_ORIGIN}/projects/${group.project}/zones/${zone}/instances/${mi.name}`,
      name: mi.name,
      currentAction: mi.currentAction ?? 'NONE',
    };
    if (mi.status !== undefined) {
      json.id = this.idOf(`${group.project}/${zone}/${mi.name}`);
      json.instanceStatus = mi.status;
    }
    if (mi.template) json.version = { instanceTemplate: `${API_ORIGIN}/projects/${group.project}/global/instanceTemplates/${mi.template}` };
    return json;
  }

  private getInstance(project: string, zone: string, name: string): [number, unknown] {
    const vm = this.vms.get(`${project}/${zone}/${name}`);
    if (!vm) return googleError(404, 'notFound', `The resource 'projects/${project}/zones/${zone}/instances/${name}' was not found`);
    const json: Record<string, unknown> = {
      kind: 'compute#instance',
      id: vm.id,
      creationTimestamp: '2025-01-01T00:00:00.000-08:00',
      name: vm.name,
      machineType: `${API_ORIGIN}/projects/${project}/zones/${zone}/machineTypes/n2-standard-4`,
      status: vm.status,
      zone: `${API_ORIGIN}/projects/${project}/zones/${zone}`,
      selfLink: `${API_ORIGIN}/projects/${project}/zones/${zone}/instances/${vm.name}`,
      metadata: {
        kind: 'compute#metadata',
        fingerprint: 'AAAAAAAAAAA=',
        items: vm.template
          ? [
              { key: 'instance-template', value: `projects/123456789012/global/instanceTemplates/${vm.template}` },
              { key: 'created-by', value: `projects/123456789012/zones/${zone}/instanceGroupManagers/some-group` },
            ]
          : [],
      },
    };
    return [200, json];
  }
}

function groupKey(project: string, scopeKind: string, scopeName: string, name: string): string {
  return `${project}/${scopeKind}/${scopeName}/${name}`;
}

function encodePageToken(resource: string, offset: number): string {
  return Buffer.from(JSON.stringify({ r: resource, o: offset })).toString('base64url');
}

function decodePageToken(token: string): { resource: string; offset: number } | undefined {
  try {
    const v = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { r?: unknown; o?: unknown };
    if (typeof v.r !== 'string' || typeof v.o !== 'number') return undefined;
    return { resource: v.r, offset: v.o };
  } catch {
    return undefined;
  }
}

/**
 * Records every outbound network attempt this process makes while it runs: HTTP(S) requests
 * made with node:http/https (what google-auth-library's gaxios uses), fetch() requests
 * (undici), and TCP sockets (their DNS lookups, connects and connect errors). A test
 * asserts that everything in `attempts` went to the fake: nothing tried Google, the
 * metadata server or anything else.
 */
export function watchOutbound(): { attempts: string[]; stop(): void } {
  const attempts: string[] = [];
  const onHttp = (m: unknown) => {
    const req = (m as { request: http.ClientRequest }).request;
    attempts.push(`http ${req.protocol}//${String(req.getHeader('host') ?? req.host)}`);
  };
  const onFetch = (m: unknown) => {
    const req = (m as { request: { origin?: unknown } }).request;
    attempts.push(`fetch ${String(req.origin)}`);
  };
  const onSocket = (m: unknown) => {
    const socket = (m as { socket: Socket }).socket;
    socket.on('lookup', (_err: Error | null, _address: string, _family: unknown, host: string) => attempts.push(`dns ${host}`));
    socket.on('connect', () => attempts.push(`tcp ${socket.remoteAddress}:${socket.remotePort}`));
    socket.on('error', (err: Error & { address?: string; port?: number }) => {
      if (err.address) attempts.push(`tcp ${err.address}:${err.port} (${err.message})`);
    });
  };
  dc.subscribe('http.client.request.start', onHttp);
  dc.subscribe('undici:request:create', onFetch);
  dc.subscribe('net.client.socket', onSocket);
  return {
    attempts,
    stop() {
      dc.unsubscribe('http.client.request.start', onHttp);
      dc.unsubscribe('undici:request:create', onFetch);
      dc.unsubscribe('net.client.socket', onSocket);
    },
  };
}

/** Compute's error body: code, message and an `errors` list with domain and reason. */
function googleError(code: number, reason: string, message: string): [number, unknown] {
  return [code, { error: { code, message, errors: [{ message, domain: 'global', reason }] } }];
}

function methodNotAllowed(r: RecordedRequest): [number, unknown] {
  return googleError(405, 'httpMethodNotAllowed', `HTTP method ${r.method} is not supported by this URL`);
}
