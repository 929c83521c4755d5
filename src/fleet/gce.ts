import { InstanceGroupManagersClient, InstancesClient, RegionInstanceGroupManagersClient, type protos } from '@google-cloud/compute';
import { InputError } from '../core/errors';
import type { FleetSpec, FleetVm } from '../core/spec';
import { StaticFleetResolver, type FleetResolver } from './fleet';

/**
 * Options handed to every @google-cloud/compute client: `apiEndpoint`, `port`, `protocol`,
 * `credentials`, `keyFilename`, `authClient`, `apiKey`, `projectId`, ... Empty in production,
 * where the clients use Application Default Credentials against compute.googleapis.com.
 */
export type ComputeClientOptions = NonNullable<ConstructorParameters<typeof InstancesClient>[0]>;

type IManagedInstance = protos.google.cloud.compute.v1.IManagedInstance;
type IInstance = protos.google.cloud.compute.v1.IInstance;

export type { FleetVm } from '../core/spec';

export interface GceFleetResolverOptions {
  /** maxResults sent with each listManagedInstances page; the API's default (500) when unset. */
  pageSize?: number;
}

/** Status a VM must have to take part in a benchmark. */
const RUNNING = 'RUNNING';
/** gRPC NOT_FOUND, the code google-gax gives a decoded HTTP 404. */
const GRPC_NOT_FOUND = 5;
/** A server that keeps handing out page tokens is a bug, not a fleet. */
const MAX_PAGES = 10_000;

/**
 * Resolves every kind of FleetSpec: `static` by name, `instance-group` (zonal or regional
 * managed instance group) and `vm` through the Compute Engine API.
 *
 * Only RUNNING VMs are returned. A group or VM that does not exist, or has nothing
 * RUNNING, is an InputError (the user named the wrong thing; no retry helps); any other
 * API failure is thrown as is, with what was asked in its message, so it can be retried.
 */
export class GceFleetResolver implements FleetResolver {
  private readonly staticFleet = new StaticFleetResolver();
  private zonalGroups?: InstanceGroupManagersClient;
  private regionalGroups?: RegionInstanceGroupManagersClient;
  private instances?: InstancesClient;

  constructor(
    private readonly clientOptions: ComputeClientOptions = {},
    private readonly options: GceFleetResolverOptions = {},
  ) {}

  async resolve(spec: FleetSpec): Promise<string[]> {
    return (await this.describe(spec)).map((vm) => vm.name);
  }

  /** The RUNNING VMs of the fleet, sorted by name, with the template each was created from. */
  async describe(spec: FleetSpec): Promise<FleetVm[]> {
    switch (spec.kind) {
      case 'static':
        return (await this.staticFleet.resolve(spec)).map((name) => ({ name }));
      case 'instance-group':
        return this.describeGroup(spec);
      case 'vm':
        return this.describeExecutor(spec);
      default: {
        const unknown: never = spec;
        throw new InputError(`unknown fleet kind ${JSON.stringify((unknown as { kind: unknown }).kind)}`);
      }
    }
  }

  /** Releases the clients' connections. */
  async close(): Promise<void> {
    await Promise.all([this.zonalGroups?.close(), this.regionalGroups?.close(), this.instances?.close()]);
    this.zonalGroups = this.regionalGroups = this.instances = undefined;
  }

  private clientOpts(): ComputeClientOptions {
    // Compute's clients speak REST (HTTP/1.1 + JSON); say so rather than rely on the default.
    return { fallback: true, ...this.clientOptions };
  }

  private async describeGroup(spec: Extract<FleetSpec, { kind: 'instance-group' }>): Promise<FleetVm[]> {
    const { project, group } = spec;
    if (!spec.zone === !spec.region) {
      throw new InputError(`give exactly one of a zone or a region for instance group "${group}"`, { flag: '--instance-group' });
    }
    const where = spec.zone ? `project ${project} zone ${spec.zone}` : `project ${project} region ${spec.region}`;
    let all: Awaited<ReturnType<GceFleetResolver['listManagedInstances']>>;
    try {
      all = await this.listManagedInstances(spec, where);
    } catch (err) {
      // As the original orchestrator does: a zonal name that is no group may be a single VM.
      if (!(err instanceof InputError) || !spec.zone) throw err;
      try {
        return [await this.describeVm({ kind: 'vm', project, zone: spec.zone, name: group })];
      } catch (vmErr) {
        if (vmErr instanceof InputError && /not found/.test(vmErr.message)) throw err;
        throw vmErr;
      }
    }

    return this.runningMembers(spec, all, where, '--instance-group');
  }

  /** The group's RUNNING members, sorted by name; none running is an InputError naming `flag`. */
  private runningMembers(
    spec: Extract<FleetSpec, { kind: 'instance-group' }>,
    all: IManagedInstance[],
    where: string,
    flag: string,
  ): FleetVm[] {
    const { group } = spec;
    const running: FleetVm[] = [];
    const others = new Map<string, number>();
    for (const mi of all) {
      const name = mi.name || lastSegment(mi.instance);
      if (!name) continue;
      if (mi.instanceStatus === RUNNING) {
        const templateUrl = mi.version?.instanceTemplate || undefined;
        const zone = zoneOf(mi.instance) ?? spec.zone;
        running.push({
          name,
          ...(templateUrl ? { instanceTemplate: lastSegment(templateUrl), instanceTemplateUrl: templateUrl } : {}),
          ...(zone ? { zone } : {}),
        });
      } else {
        const status =
          mi.instanceStatus ||
          (mi.currentAction && mi.currentAction !== 'NONE' ? `${mi.currentAction} (no status yet)` : 'without a status');
        others.set(status, (others.get(status) ?? 0) + 1);
      }
    }
    if (running.length === 0) {
      const detail =
        others.size === 0
          ? 'it has no instances'
          : [...others]
              .sort(([a], [b]) => a.localeCompare(b))
              .map(([status, n]) => `${n} ${n === 1 ? 'is' : 'are'} ${status}`)
              .join(', ');
      throw new InputError(`instance group "${group}" has no ${RUNNING} instances in ${where} (${detail})`, { flag });
    }
    return running.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  private async listManagedInstances(spec: Extract<FleetSpec, { kind: 'instance-group' }>, where: string): Promise<IManagedInstance[]> {
    const { project, group } = spec;
    const all: IManagedInstance[] = [];
    const seenTokens = new Set<string>();
    let pageToken: string | undefined;
    for (let page = 0; ; page++) {
      if (page >= MAX_PAGES) throw new Error(`listing instance group "${group}" in ${where} did not end after ${MAX_PAGES} pages`);
      const common = {
        project,
        instanceGroupManager: group,
        ...(this.options.pageSize ? { maxResults: this.options.pageSize } : {}),
        ...(pageToken ? { pageToken } : {}),
      };
      let items: IManagedInstance[];
      let next: string | null | undefined;
      try {
        if (spec.zone) {
          this.zonalGroups ??= new InstanceGroupManagersClient(this.clientOpts());
          const [resources, , raw] = await this.zonalGroups.listManagedInstances({ ...common, zone: spec.zone }, { autoPaginate: false });
          items = resources;
          next = raw?.nextPageToken;
        } else {
          this.regionalGroups ??= new RegionInstanceGroupManagersClient(this.clientOpts());
          const [resources, , raw] = await this.regionalGroups.listManagedInstances(
            { ...common, region: spec.region! },
            { autoPaginate: false },
          );
          items = resources;
          next = raw?.nextPageToken;
        }
      } catch (err) {
        if (isNotFound(err)) throw new InputError(`instance group "${group}" not found in ${where}`, { flag: '--instance-group' });
        throw new Error(`could not list the instances of instance group "${group}" in ${where}: ${apiMessage(err)}`, { cause: err });
      }
      all.push(...items);
      if (!next) return all;
      if (seenTokens.has(next))
        throw new Error(`listing instance group "${group}" in ${where} returned page token ${JSON.stringify(next)} twice`);
      seenTokens.add(next);
      pageToken = next;
    }
  }

  /**
   * `--executor-vm NAME` as the original tool reads it: the RUNNING VMs of a managed instance
   * group of that name in the zone when there is one, else the single VM of that name.
   */
  private async describeExecutor(spec: Extract<FleetSpec, { kind: 'vm' }>): Promise<FleetVm[]> {
    const group = { kind: 'instance-group' as const, project: spec.project, zone: spec.zone, group: spec.name };
    const where = `project ${spec.project} zone ${spec.zone}`;
    let members: IManagedInstance[];
    try {
      members = await this.listManagedInstances(group, where);
    } catch (err) {
      if (!(err instanceof InputError)) throw err; // not a "no such group": an API failure to retry
      try {
        return [await this.describeVm(spec)];
      } catch (vmErr) {
        if (vmErr instanceof InputError && /not found/.test(vmErr.message)) {
          throw new InputError(`neither a managed instance group nor a VM named "${spec.name}" was found in ${where}`, {
            flag: '--executor-vm',
          });
        }
        throw vmErr;
      }
    }
    return this.runningMembers(group, members, where, '--executor-vm');
  }

  private async describeVm(spec: Extract<FleetSpec, { kind: 'vm' }>): Promise<FleetVm> {
    const { project, zone, name } = spec;
    const where = `project ${project} zone ${zone}`;
    let instance: IInstance;
    try {
      this.instances ??= new InstancesClient(this.clientOpts());
      [instance] = await this.instances.get({ project, zone, instance: name });
    } catch (err) {
      if (isNotFound(err)) throw new InputError(`VM "${name}" not found in ${where}`, { flag: '--executor-vm' });
      throw new Error(`could not look up VM "${name}" in ${where}: ${apiMessage(err)}`, { cause: err });
    }
    if (instance.status !== RUNNING) {
      throw new InputError(`VM "${name}" is not ${RUNNING} in ${where} (it is ${instance.status || 'without a status'})`, {
        flag: '--executor-vm',
      });
    }
    const templateUrl = instance.metadata?.items?.find((item) => item.key === 'instance-template')?.value || undefined;
    return {
      name,
      ...(templateUrl ? { instanceTemplate: lastSegment(templateUrl), instanceTemplateUrl: templateUrl } : {}),
      zone,
    };
  }
}

function lastSegment(url: string | null | undefined): string | undefined {
  if (!url) return undefined;
  const parts = url.split('/').filter((p) => p !== '');
  return parts[parts.length - 1];
}

/** The zone in a resource URL such as .../projects/p/zones/us-central1-a/instances/vm-1. */
function zoneOf(url: string | null | undefined): string | undefined {
  return url ? /\/zones\/([^/]+)\//.exec(url)?.[1] : undefined;
}

interface ApiErrorLike {
  status?: unknown;
  code?: unknown;
  message?: unknown;
  response?: { status?: unknown; data?: unknown };
}

/**
 * Over REST the client rejects with a GaxiosError carrying the HTTP `status`; a google-gax
 * GoogleError carries the gRPC `code` instead. Both shapes mean the same 404.
 */
function isNotFound(err: unknown): boolean {
  const e = (err ?? {}) as ApiErrorLike;
  return e.status === 404 || e.response?.status === 404 || e.code === 404 || e.code === '404' || e.code === GRPC_NOT_FOUND;
}

/** The API's own message ("Required 'compute.instances.get' permission ...") rather than a JSON dump. */
function apiMessage(err: unknown): string {
  const e = (err ?? {}) as ApiErrorLike;
  const status = typeof e.status === 'number' ? e.status : typeof e.response?.status === 'number' ? e.response.status : undefined;
  const fromBody = (body: unknown): string | undefined => {
    const parsed = typeof body === 'string' ? tryJson(body) : body;
    const message = (parsed as { error?: { message?: unknown } } | undefined)?.error?.message;
    return typeof message === 'string' ? message : undefined;
  };
  const text = fromBody(e.response?.data) ?? fromBody(e.message) ?? (typeof e.message === 'string' ? e.message : String(err));
  return status !== undefined ? `HTTP ${status}: ${text}` : text;
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
