/**
 * Deterministic pseudo-random numbers for the benchmark dataset and request streams: the same seed
 * gives the same dataset (ids included) and the same request sequence on every machine.
 */

/** sfc32: a small, fast 32-bit generator with a 128-bit state. */
export class Random {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(...seeds: number[]) {
    // Mix every seed part through splitmix32 so nearby seeds (scope 0, scope 1) give unrelated streams.
    let h = 0x9e3779b9;
    const mix = (value: number) => {
      h = (h + (value | 0) + 0x9e3779b9) | 0;
      let z = h;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    for (const seed of seeds) mix(seed);
    this.a = mix(1);
    this.b = mix(2);
    this.c = mix(3);
    this.d = mix(4);
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  nextUint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }

  /** [0, 1) */
  next(): number {
    return this.nextUint32() / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** An integer in [min, max]. */
  between(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  chance(p: number): boolean {
    return this.next() < p;
  }

  /** `k` distinct indexes of [0, n) (partial Fisher–Yates), in random order. */
  sample(n: number, k: number): number[] {
    if (k > n) throw new Error(`cannot sample ${k} of ${n}`);
    const pool = new Map<number, number>();
    const out: number[] = [];
    for (let i = 0; i < k; i++) {
      const j = i + this.int(n - i);
      const vi = pool.get(i) ?? i;
      const vj = pool.get(j) ?? j;
      pool.set(j, vi);
      out.push(vj);
    }
    return out;
  }

  /** A version-4 UUID made of this generator's bits (deterministic, unlike crypto.randomUUID). */
  uuid(): string {
    const hex = (n: number) => n.toString(16).padStart(8, '0');
    const a = hex(this.nextUint32());
    const b = hex(this.nextUint32());
    const c = hex(this.nextUint32());
    const d = hex(this.nextUint32());
    const variant = ((parseInt(c[0]!, 16) & 0x3) | 0x8).toString(16);
    return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-${variant}${c.slice(1, 4)}-${c.slice(4)}${d}`;
  }
}
