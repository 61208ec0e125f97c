import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Summarizes V8 `.cpuprofile` files (from `node --cpu-prof`): where the CPU time went, by function
 * (self time), by code location (package / the service's own dist folder / Node internals), and the
 * service's own functions by inclusive time. Idle time is left out of the percentages.
 *
 *   node --import tsx bench/profile-summary.ts <dir-or-file.cpuprofile>
 */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  startTime: number;
  endTime: number;
}

export function summarizeProfiles(path: string, top = 25): string {
  const files = path.endsWith('.cpuprofile') ? [path] : readdirSync(path).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(path, f));
  if (files.length === 0) return `No .cpuprofile in ${path}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const byArea = new Map<string, number>();
  const byOwner = new Map<string, number>();
  let active = 0;
  let idle = 0;
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const perSample = (profile.endTime - profile.startTime) / 1000 / Math.max(1, profile.samples.length); // ms
    const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    for (const id of profile.samples) {
      const node = nodes.get(id)!;
      const name = node.callFrame.functionName;
      if (name === '(idle)') {
        idle += perSample;
        continue;
      }
      active += perSample;
      add(self, label(node), perSample);
      add(byArea, area(node.callFrame.url, name), perSample);
      // Native code and Node internals are charged to the nearest package or dist/ frame above them
      // (a socket write made by pg counts for pg, WebCrypto work started by jose for jose).
      let owner: string | undefined;
      for (let at: number | undefined = id; at !== undefined && owner === undefined; at = parent.get(at)) {
        const url = nodes.get(at)!.callFrame.url;
        if (url.includes('/node_modules/') || url.includes('/dist/')) owner = area(url, '');
      }
      add(byOwner, owner ?? area(node.callFrame.url, name), perSample);
      const seen = new Set<string>();
      for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
        const frame = nodes.get(at)!;
        if (!frame.callFrame.url.includes('/dist/')) continue;
        const key = label(frame);
        if (!seen.has(key)) {
          seen.add(key);
          add(inclusive, key, perSample);
        }
      }
    }
  }
  const pct = (ms: number) => `${((100 * ms) / active).toFixed(1).padStart(5)}%`;
  const list = (map: Map<string, number>, n: number) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, ms]) => `  ${pct(ms)}  ${(ms / 1000).toFixed(2).padStart(7)} s  ${key}`)
      .join('\n');
  return [
    `CPU profile (${files.length} file${files.length > 1 ? 's' : ''}): ${(active / 1000).toFixed(1)} s on CPU, ${(idle / 1000).toFixed(1)} s idle`,
    '',
    'By area (self time):',
    list(byArea, 15),
    '',
    'By component (self time, native and Node-internal frames charged to the nearest package or dist/ caller):',
    list(byOwner, 20),
    '',
    `Top ${top} functions by self time:`,
    list(self, top),
    '',
    "The service's own functions (dist/) by inclusive time:",
    list(inclusive, top),
  ].join('\n');
}

function add(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value);
}

function shortUrl(url: string): string {
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  return url ? `${functionName || '(anonymous)'}  ${shortUrl(url)}:${lineNumber + 1}` : functionName || '(anonymous)';
}

function area(url: string, functionName: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native / V8 builtins)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1).split('/').slice(0, 2).join('/');
  if (url.startsWith('node:')) return url.split('/')[0]!.replace(/^node:/, 'node:') + ' (Node internals)';
  return url;
}

if (process.argv[1] && import.meta.filename === process.argv[1]) {
  const target = process.argv[2];
  if (!target) {
    console.error('usage: node --import tsx bench/profile-summary.ts <dir-or-file.cpuprofile>');
    process.exit(1);
  }
  console.log(summarizeProfiles(target));
}
