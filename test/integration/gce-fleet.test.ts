/**
 * GceFleetResolver with the real @google-cloud/compute client (REST transport, real
 * google-auth-library and gaxios) against a local fake of the Compute Engine REST API.
 * Nothing here may reach Google: every outbound attempt is recorded and checked.
 */
import { InstanceGroupManagersClient } from '@google-cloud/compute';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InputError } from '../../src/core/errors';
import { GceFleetResolver } from '../../src/fleet/gce';
import { FAKE_API_KEY, FakeCompute, watchOutbound, type RecordedRequest } from '../support/fake-compute';

const PROJECT = 'bench-project';
const ZONE = 'us-west4-a';
const REGION = 'us-central1';

let fake: FakeCompute;
let outbound: ReturnType<typeof watchOutbound>;
let resolver: GceFleetResolver;
const savedEnv: Record<string, string | undefined> = {};

beforeAll(async () => {
  outbound = watchOutbound();
  fake = await FakeCompute.start();
  // Safety net: were google-auth-library to probe the metadata server, the probe lands on
  // the fake (and fails the outbound check below) instead of leaving the machine.
  for (const key of ['GCE_METADATA_HOST', 'GCE_METADATA_IP']) savedEnv[key] = process.env[key];
  process.env.GCE_METADATA_HOST = fake.host;
  process.env.GCE_METADATA_IP = fake.host;
});

afterAll(async () => {
  await resolver?.close();
  outbound?.stop();
  await fake?.close();
  for (const [key, value] of Object.entries(savedEnv)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});

beforeEach(() => {
  fake.clearRequests();
  fake.pageSize = 500;
  resolver = new GceFleetResolver(fake.clientOptions());
});

afterEach(async () => {
  await resolver.close();
  // Every connection and request went to the fake, and only to its Compute API paths.
  const elsewhere = outbound.attempts.filter((a) => a !== `http http://${fake.host}` && a !== `tcp ${fake.host}`);
  expect(elsewhere).toEqual([]);
  expect(fake.nonComputeRequests()).toEqual([]);
});

const zonalPath = (group: string, zone = ZONE, project = PROJECT) =>
  `/compute/v1/projects/${project}/zones/${zone}/instanceGroupManagers/${group}/listManagedInstances`;
const regionalPath = (group: string, region = REGION, project = PROJECT) =>
  `/compute/v1/projects/${project}/regions/${region}/instanceGroupManagers/${group}/listManagedInstances`;
const instancePath = (name: string, zone = ZONE, project = PROJECT) => `/compute/v1/projects/${project}/zones/${zone}/instances/${name}`;

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

function expectApiRequest(r: RecordedRequest, method: string, path: string): void {
  expect(r.method).toBe(method);
  expect(r.path).toBe(path);
  // Authenticated the way we configured (an API key), without any OAuth token.
  expect(r.headers['x-goog-api-key']).toBe(FAKE_API_KEY);
  expect(r.headers.authorization).toBeUndefined();
  expect(r.headers['x-goog-api-client']).toMatch(/\bgapic\/6\.15\.0\b/);
  expect(r.headers['x-goog-api-client']).toMatch(/\brest\//);
  expect(r.headers.host).toBe(fake.host);
}

describe('zonal managed instance group', () => {
  it('returns only the RUNNING instances, sorted, with their templates', async () => {
    fake.addZonalGroup(PROJECT, ZONE, 'bench-mig', [
      { name: 'bench-mig-zz9k', status: 'RUNNING', template: 'tmpl-numjobs-1' },
      { name: 'bench-mig-a1b2', status: 'RUNNING', template: 'tmpl-multi' },
      { name: 'bench-mig-stop', status: 'STOPPING', template: 'tmpl-multi' },
      { name: 'bench-mig-term', status: 'TERMINATED', template: 'tmpl-multi' },
      { name: 'bench-mig-prov', status: 'PROVISIONING', currentAction: 'CREATING', template: 'tmpl-multi' },
      { name: 'bench-mig-new0', currentAction: 'CREATING', template: 'tmpl-multi' },
      { name: 'bench-mig-m3n4', status: 'RUNNING', template: 'tmpl-multi' },
    ]);
    const spec = { kind: 'instance-group', project: PROJECT, zone: ZONE, group: 'bench-mig' } as const;

    expect(await resolver.resolve(spec)).toEqual(['bench-mig-a1b2', 'bench-mig-m3n4', 'bench-mig-zz9k']);
    expect(await resolver.describe(spec)).toEqual([
      {
        name: 'bench-mig-a1b2',
        instanceTemplate: 'tmpl-multi',
        instanceTemplateUrl: `https://www.googleapis.com/compute/v1/projects/${PROJECT}/global/instanceTemplates/tmpl-multi`,
        zone: ZONE,
      },
      {
        name: 'bench-mig-m3n4',
        instanceTemplate: 'tmpl-multi',
        instanceTemplateUrl: `https://www.googleapis.com/compute/v1/projects/${PROJECT}/global/instanceTemplates/tmpl-multi`,
        zone: ZONE,
      },
      {
        name: 'bench-mig-zz9k',
        instanceTemplate: 'tmpl-numjobs-1',
        instanceTemplateUrl: `https://www.googleapis.com/compute/v1/projects/${PROJECT}/global/instanceTemplates/tmpl-numjobs-1`,
        zone: ZONE,
      },
    ]);

    expect(fake.requests).toHaveLength(2);
    for (const r of fake.requests) {
      expectApiRequest(r, 'POST', zonalPath('bench-mig'));
      expect(r.query).toEqual({});
      expect(r.headers['x-goog-request-params']).toBe(`project=${PROJECT}&zone=${ZONE}&instance_group_manager=bench-mig`);
      expect(r.status).toBe(200);
    }
    // The watcher saw the client's traffic (so its silence about anything else means something).
    expect(outbound.attempts).toContain(`http http://${fake.host}`);
  });

  it('omits the template of a VM whose managed instance has no version', async () => {
    fake.addZonalGroup(PROJECT, ZONE, 'no-version', [{ name: 'vm-1', status: 'RUNNING' }]);
    expect(await resolver.describe({ kind: 'instance-group', project: PROJECT, zone: ZONE, group: 'no-version' })).toEqual([
      { name: 'vm-1', zone: ZONE },
    ]);
  });

  it('says which group was not found, and where (a non-retryable InputError)', async () => {
    const err = await rejection(resolver.resolve({ kind: 'instance-group', project: PROJECT, zone: ZONE, group: 'no-such-mig' }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(`instance group "no-such-mig" not found in project ${PROJECT} zone ${ZONE}`);
    // Before giving up it checked whether the name is a single VM.
    expect(fake.requests.map((r) => [r.method, r.path, r.status])).toEqual([
      ['POST', zonalPath('no-such-mig'), 404],
      ['GET', instancePath('no-such-mig'), 404],
    ]);
  });

  it('detects a single VM given where a group was expected, as the original orchestrator does', async () => {
    fake.addVm(PROJECT, ZONE, { name: 'lone-vm', status: 'RUNNING', template: 'tmpl-x' });
    expect(await resolver.describe({ kind: 'instance-group', project: PROJECT, zone: ZONE, group: 'lone-vm' })).toEqual([
      expect.objectContaining({ name: 'lone-vm', instanceTemplate: 'tmpl-x', zone: ZONE }),
    ]);
  });

  it('reports a group with no instances at all', async () => {
    fake.addZonalGroup(PROJECT, ZONE, 'empty-mig', []);
    const err = await rejection(resolver.resolve({ kind: 'instance-group', project: PROJECT, zone: ZONE, group: 'empty-mig' }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(
      `instance group "empty-mig" has no RUNNING instances in project ${PROJECT} zone ${ZONE} (it has no instances)`,
    );
    // The API sends an empty page as {} (no managedInstances field), and the client copes.
    expect(fake.requests.map((r) => r.response)).toEqual([{}]);
  });

  it('reports a group whose instances are all not RUNNING, counted by status', async () => {
    fake.addZonalGroup(PROJECT, ZONE, 'stopping-mig', [
      { name: 'vm-1', status: 'STOPPING' },
      { name: 'vm-2', status: 'STOPPING' },
      { name: 'vm-3', status: 'TERMINATED' },
      { name: 'vm-4', status: 'STOPPING' },
      { name: 'vm-5', currentAction: 'CREATING' },
    ]);
    const err = await rejection(resolver.resolve({ kind: 'instance-group', project: PROJECT, zone: ZONE, group: 'stopping-mig' }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(
      `instance group "stopping-mig" has no RUNNING instances in project ${PROJECT} zone ${ZONE} (1 is CREATING (no status yet), 3 are STOPPING, 1 is TERMINATED)`,
    );
  });

  it('passes other API errors on as retryable errors that name the group', async () => {
    fake.addZonalGroup(PROJECT, ZONE, 'locked-mig', [{ name: 'vm-1', status: 'RUNNING' }]);
    fake.failRequests(
      '/instanceGroupManagers/locked-mig/',
      403,
      'forbidden',
      `Required 'compute.instanceGroupManagers.get' permission for 'projects/${PROJECT}/zones/${ZONE}/instanceGroupManagers/locked-mig'`,
      { times: 1 },
    );
    const err = await rejection(resolver.resolve({ kind: 'instance-group', project: PROJECT, zone: ZONE, group: 'locked-mig' }));
    expect(err).not.toBeInstanceOf(InputError);
    expect(err.message).toBe(
      `could not list the instances of instance group "locked-mig" in project ${PROJECT} zone ${ZONE}: HTTP 403: ` +
        `Required 'compute.instanceGroupManagers.get' permission for 'projects/${PROJECT}/zones/${ZONE}/instanceGroupManagers/locked-mig'`,
    );
    // The failure was the server's answer, and a later attempt (a Temporal activity retry) succeeds.
    expect(await resolver.resolve({ kind: 'instance-group', project: PROJECT, zone: ZONE, group: 'locked-mig' })).toEqual(['vm-1']);
  });
});

describe('regional managed instance group', () => {
  it('lists through the regional API and gives each VM its own zone', async () => {
    fake.addRegionalGroup(PROJECT, REGION, 'regional-mig', [
      { name: 'regional-mig-c', status: 'RUNNING', zone: 'us-central1-c', template: 'tmpl-multi' },
      { name: 'regional-mig-a', status: 'RUNNING', zone: 'us-central1-a', template: 'tmpl-numjobs-1' },
      { name: 'regional-mig-b', status: 'SUSPENDED', zone: 'us-central1-b', template: 'tmpl-multi' },
      { name: 'regional-mig-f', status: 'RUNNING', zone: 'us-central1-f', template: 'tmpl-multi' },
    ]);
    // A zonal group of the same name elsewhere must not be what answers.
    fake.addZonalGroup(PROJECT, 'us-central1-a', 'regional-mig', [{ name: 'wrong', status: 'RUNNING' }]);

    const vms = await resolver.describe({ kind: 'instance-group', project: PROJECT, region: REGION, group: 'regional-mig' });
    expect(vms.map((vm) => [vm.name, vm.zone, vm.instanceTemplate])).toEqual([
      ['regional-mig-a', 'us-central1-a', 'tmpl-numjobs-1'],
      ['regional-mig-c', 'us-central1-c', 'tmpl-multi'],
      ['regional-mig-f', 'us-central1-f', 'tmpl-multi'],
    ]);

    expect(fake.requests).toHaveLength(1);
    const [r] = fake.requests;
    expectApiRequest(r!, 'POST', regionalPath('regional-mig'));
    expect(r!.headers['x-goog-request-params']).toBe(`project=${PROJECT}&region=${REGION}&instance_group_manager=regional-mig`);
  });

  it('says which regional group was not found, naming the region', async () => {
    const err = await rejection(resolver.resolve({ kind: 'instance-group', project: PROJECT, region: REGION, group: 'gone' }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toContain(`instance group "gone" not found in project ${PROJECT} region ${REGION}`);
    expect(fake.requests.map((r) => [r.path, r.status])).toEqual([[regionalPath('gone'), 404]]);
  });

  it('rejects a group spec with both or neither of zone and region before calling the API', async () => {
    for (const spec of [
      { kind: 'instance-group', project: PROJECT, zone: ZONE, region: REGION, group: 'g' },
      { kind: 'instance-group', project: PROJECT, group: 'g' },
    ] as const) {
      const err = await rejection(resolver.resolve(spec));
      expect(err).toBeInstanceOf(InputError);
      expect(err.message).toContain('give exactly one of a zone or a region for instance group "g"');
    }
    expect(fake.requests).toEqual([]);
  });
});

describe('pagination', () => {
  const fleet = Array.from({ length: 11 }, (_, i) => ({
    name: `page-mig-${String(10 - i).padStart(2, '0')}`,
    status: i % 3 === 2 ? 'STOPPING' : 'RUNNING',
  }));
  const expectedRunning = fleet
    .filter((vm) => vm.status === 'RUNNING')
    .map((vm) => vm.name)
    .sort();

  it('follows nextPageToken across every page the server chooses to send', async () => {
    fake.addZonalGroup(PROJECT, ZONE, 'page-mig', fleet);
    fake.pageSize = 3; // the server returns at most 3 per page whatever maxResults says

    expect(await resolver.resolve({ kind: 'instance-group', project: PROJECT, zone: ZONE, group: 'page-mig' })).toEqual(expectedRunning);

    const pages = fake.requests;
    expect(pages).toHaveLength(4);
    expect(pages[0]!.query).toEqual({});
    for (let i = 1; i < pages.length; i++) {
      const previous = pages[i - 1]!.response as { nextPageToken?: string };
      expect(previous.nextPageToken).toEqual(expect.any(String));
      // The token is sent back as a query parameter of the same POST.
      expect(pages[i]!.query).toEqual({ pageToken: previous.nextPageToken });
      expectApiRequest(pages[i]!, 'POST', zonalPath('page-mig'));
    }
    expect((pages[3]!.response as { nextPageToken?: string }).nextPageToken).toBeUndefined();
    expect(pages.map((p) => ((p.response as { managedInstances?: unknown[] }).managedInstances ?? []).length)).toEqual([3, 3, 3, 2]);
  });

  it('sends maxResults when a page size is configured, on the regional API too', async () => {
    fake.addRegionalGroup(PROJECT, REGION, 'page-mig', fleet);
    const paged = new GceFleetResolver(fake.clientOptions(), { pageSize: 4 });
    try {
      expect(await paged.resolve({ kind: 'instance-group', project: PROJECT, region: REGION, group: 'page-mig' })).toEqual(expectedRunning);
    } finally {
      await paged.close();
    }
    expect(fake.requests.map((r) => r.path)).toEqual([regionalPath('page-mig'), regionalPath('page-mig'), regionalPath('page-mig')]);
    expect(fake.requests.map((r) => r.query.maxResults)).toEqual(['4', '4', '4']);
    expect(fake.requests[0]!.query.pageToken).toBeUndefined();
    expect(fake.requests[1]!.query.pageToken).toBe((fake.requests[0]!.response as { nextPageToken: string }).nextPageToken);
    expect(fake.requests[2]!.query.pageToken).toBe((fake.requests[1]!.response as { nextPageToken: string }).nextPageToken);
  });

  it('counts non-RUNNING instances on every page when none is RUNNING', async () => {
    fake.addZonalGroup(
      PROJECT,
      ZONE,
      'all-stopped',
      Array.from({ length: 5 }, (_, i) => ({ name: `s-${i}`, status: 'TERMINATED' })),
    );
    fake.pageSize = 2;
    const err = await rejection(resolver.resolve({ kind: 'instance-group', project: PROJECT, zone: ZONE, group: 'all-stopped' }));
    expect(err.message).toContain('(5 are TERMINATED)');
    expect(fake.requests).toHaveLength(3);
  });
});

describe('--executor-vm: a managed instance group of that name first, else a single VM (as the original)', () => {
  it('resolves a group of that name to its RUNNING members, without looking for a VM', async () => {
    fake.addZonalGroup(PROJECT, ZONE, 'kokoro-mig', [
      { name: 'mig-b', status: 'RUNNING', template: 'tpl-multi-thread' },
      { name: 'mig-a', status: 'RUNNING', template: 'tpl-single-thread' },
      { name: 'mig-c', status: 'STOPPING', template: 'tpl-multi-thread' },
    ]);
    // A VM of the same name must not be taken: the group wins.
    fake.addVm(PROJECT, ZONE, { name: 'kokoro-mig', status: 'RUNNING' });
    const spec = { kind: 'vm', project: PROJECT, zone: ZONE, name: 'kokoro-mig' } as const;
    expect(await resolver.describe(spec)).toEqual([
      {
        name: 'mig-a',
        instanceTemplate: 'tpl-single-thread',
        instanceTemplateUrl: `https://www.googleapis.com/compute/v1/projects/${PROJECT}/global/instanceTemplates/tpl-single-thread`,
        zone: ZONE,
      },
      {
        name: 'mig-b',
        instanceTemplate: 'tpl-multi-thread',
        instanceTemplateUrl: `https://www.googleapis.com/compute/v1/projects/${PROJECT}/global/instanceTemplates/tpl-multi-thread`,
        zone: ZONE,
      },
    ]);
    expect(fake.requests.map((r) => [r.method, r.path, r.status])).toEqual([['POST', zonalPath('kokoro-mig'), 200]]);
    expectApiRequest(fake.requests[0]!, 'POST', zonalPath('kokoro-mig'));
  });

  it('names --executor-vm when the group has nothing RUNNING', async () => {
    fake.addZonalGroup(PROJECT, ZONE, 'idle-mig', [{ name: 'x-1', status: 'TERMINATED' }]);
    const err = await rejection(resolver.describe({ kind: 'vm', project: PROJECT, zone: ZONE, name: 'idle-mig' }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe(
      `--executor-vm: instance group "idle-mig" has no RUNNING instances in project ${PROJECT} zone ${ZONE} (1 is TERMINATED)`,
    );
  });

  it('falls back to a RUNNING VM of that name, with the template from its metadata', async () => {
    fake.addVm(PROJECT, ZONE, { name: 'executor-1', status: 'RUNNING', template: 'tmpl-numjobs-1' });
    const spec = { kind: 'vm', project: PROJECT, zone: ZONE, name: 'executor-1' } as const;
    expect(await resolver.resolve(spec)).toEqual(['executor-1']);
    expect(await resolver.describe(spec)).toEqual([
      {
        name: 'executor-1',
        instanceTemplate: 'tmpl-numjobs-1',
        instanceTemplateUrl: 'projects/123456789012/global/instanceTemplates/tmpl-numjobs-1',
        zone: ZONE,
      },
    ]);
    // Each lookup: the group (404), then the VM.
    expect(fake.requests.map((r) => [r.method, r.path, r.status])).toEqual([
      ['POST', zonalPath('executor-1'), 404],
      ['GET', instancePath('executor-1'), 200],
      ['POST', zonalPath('executor-1'), 404],
      ['GET', instancePath('executor-1'), 200],
    ]);
    for (const r of fake.requests.filter((q) => q.method === 'GET')) {
      expectApiRequest(r, 'GET', instancePath('executor-1'));
      expect(r.query).toEqual({});
      expect(r.body).toBe('');
      expect(r.headers['x-goog-request-params']).toBe(`project=${PROJECT}&zone=${ZONE}&instance=executor-1`);
    }
  });

  it('returns a VM not created from a template without one', async () => {
    fake.addVm(PROJECT, 'europe-west1-b', { name: 'hand-made', status: 'RUNNING' });
    expect(await resolver.describe({ kind: 'vm', project: PROJECT, zone: 'europe-west1-b', name: 'hand-made' })).toEqual([
      { name: 'hand-made', zone: 'europe-west1-b' },
    ]);
    expect(fake.requests.map((r) => r.path)).toEqual([
      zonalPath('hand-made', 'europe-west1-b'),
      instancePath('hand-made', 'europe-west1-b'),
    ]);
  });

  it('refuses a stopped VM, saying what state it is in', async () => {
    fake.addVm(PROJECT, ZONE, { name: 'stopped-vm', status: 'TERMINATED' });
    fake.addVm(PROJECT, ZONE, { name: 'stopping-vm', status: 'STOPPING' });
    const stopped = await rejection(resolver.resolve({ kind: 'vm', project: PROJECT, zone: ZONE, name: 'stopped-vm' }));
    expect(stopped).toBeInstanceOf(InputError);
    expect(stopped.message).toContain(`VM "stopped-vm" is not RUNNING in project ${PROJECT} zone ${ZONE} (it is TERMINATED)`);
    const stopping = await rejection(resolver.resolve({ kind: 'vm', project: PROJECT, zone: ZONE, name: 'stopping-vm' }));
    expect(stopping.message).toContain('(it is STOPPING)');
  });

  it('says that neither a group nor a VM of that name exists, and where', async () => {
    fake.addVm(PROJECT, ZONE, { name: 'other-zone-vm', status: 'RUNNING' });
    const err = await rejection(resolver.resolve({ kind: 'vm', project: PROJECT, zone: 'us-west4-b', name: 'other-zone-vm' }));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toBe(
      `--executor-vm: neither a managed instance group nor a VM named "other-zone-vm" was found in project ${PROJECT} zone us-west4-b`,
    );
    expect(fake.requests.map((r) => [r.method, r.path, r.status])).toEqual([
      ['POST', zonalPath('other-zone-vm', 'us-west4-b'), 404],
      ['GET', instancePath('other-zone-vm', 'us-west4-b'), 404],
    ]);
    expect(fake.requests[1]!.response).toEqual({
      error: {
        code: 404,
        message: `The resource 'projects/${PROJECT}/zones/us-west4-b/instances/other-zone-vm' was not found`,
        errors: [
          {
            message: `The resource 'projects/${PROJECT}/zones/us-west4-b/instances/other-zone-vm' was not found`,
            domain: 'global',
            reason: 'notFound',
          },
        ],
      },
    });
  });

  it('passes a server error of the group lookup on as retryable, without guessing a VM', async () => {
    fake.addVm(PROJECT, ZONE, { name: 'flaky-mig', status: 'RUNNING' });
    fake.failRequests(
      '/instanceGroupManagers/flaky-mig/',
      503,
      'backendError',
      'Internal error. Please try again or contact Google Support.',
      { times: 1 },
    );
    const err = await rejection(resolver.resolve({ kind: 'vm', project: PROJECT, zone: ZONE, name: 'flaky-mig' }));
    expect(err).not.toBeInstanceOf(InputError);
    expect(err.message).toMatch(/could not list the instances of instance group "flaky-mig" .*HTTP 503/);
    expect(fake.requests.map((r) => r.method)).toEqual(['POST']);
  });

  it('passes a server error of the VM lookup on as a retryable error naming the VM', async () => {
    fake.addVm(PROJECT, ZONE, { name: 'flaky', status: 'RUNNING' });
    fake.failRequests('/instances/flaky', 503, 'backendError', 'Internal error. Please try again or contact Google Support.', { times: 1 });
    const err = await rejection(resolver.resolve({ kind: 'vm', project: PROJECT, zone: ZONE, name: 'flaky' }));
    expect(err).not.toBeInstanceOf(InputError);
    expect(err.message).toBe(
      `could not look up VM "flaky" in project ${PROJECT} zone ${ZONE}: HTTP 503: Internal error. Please try again or contact Google Support.`,
    );
    expect(await resolver.resolve({ kind: 'vm', project: PROJECT, zone: ZONE, name: 'flaky' })).toEqual(['flaky']);
  });
});

describe('static fleet', () => {
  it('passes the names through without calling the API', async () => {
    expect(await resolver.resolve({ kind: 'static', vms: ['agent-b', 'agent-a'] })).toEqual(['agent-b', 'agent-a']);
    expect(await resolver.describe({ kind: 'static', vms: ['agent-b'] })).toEqual([{ name: 'agent-b' }]);
    expect(fake.requests).toEqual([]);
  });

  it('works with the production construction (Application Default Credentials) without touching the network', async () => {
    // Clients are created on first use, so a worker with no Google credentials can still
    // construct the resolver and serve static fleets; afterEach checks nothing went out.
    const production = new GceFleetResolver();
    try {
      expect(await production.resolve({ kind: 'static', vms: ['agent-1'] })).toEqual(['agent-1']);
    } finally {
      await production.close();
    }
  });
});

describe('the fake speaks what the real client expects', () => {
  it('serves the real client directly, decoding into the library types', async () => {
    fake.addZonalGroup(PROJECT, ZONE, 'direct', [{ name: 'd-1', status: 'RUNNING', template: 't' }]);
    const client = new InstanceGroupManagersClient(fake.clientOptions());
    try {
      const [items, , raw] = await client.listManagedInstances(
        { project: PROJECT, zone: ZONE, instanceGroupManager: 'direct' },
        { autoPaginate: false },
      );
      expect(items).toHaveLength(1);
      expect(items[0]).toMatchObject({
        name: 'd-1',
        instanceStatus: 'RUNNING',
        currentAction: 'NONE',
        instance: `https://www.googleapis.com/compute/v1/projects/${PROJECT}/zones/${ZONE}/instances/d-1`,
        version: { instanceTemplate: `https://www.googleapis.com/compute/v1/projects/${PROJECT}/global/instanceTemplates/t` },
      });
      expect(raw?.nextPageToken ?? undefined).toBeUndefined();
    } finally {
      await client.close();
    }
  });

  it('the outbound watcher records attempts to anywhere else', async () => {
    const { createServer, request } = await import('node:http');
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', () => resolve()));
    const port = (closed.address() as { port: number }).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const before = outbound.attempts.length;
    await new Promise<void>((resolve) => {
      const req = request({ host: '127.0.0.1', port, path: '/computeMetadata/v1/project/project-id' }, () => resolve());
      req.on('error', () => resolve());
      req.end();
    });
    const seen = outbound.attempts.splice(before);
    expect(seen).toContain(`http http://127.0.0.1:${port}`);
    expect(seen.some((a) => a.startsWith(`tcp 127.0.0.1:${port} (`))).toBe(true);
  });

  it('answers an unknown API path with a JSON 404, not a crash', async () => {
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      import('node:http').then(({ request }) => {
        const req = request({ host: '127.0.0.1', port: fake.port, path: '/compute/v1/projects/p/zones/z/disks/d', method: 'GET' }, (r) => {
          let body = '';
          r.on('data', (c: Buffer) => (body += c));
          r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
        });
        req.on('error', reject);
        req.end();
      }, reject);
    });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toMatchObject({ error: { code: 404, errors: [{ reason: 'notFound' }] } });
  });
});
