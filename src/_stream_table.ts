/**
 * The streams in flight on one worker connection, by id (src/_bridge.ts), in a table of slots
 * rather than a `Map`.
 *
 * Why not a Map: JavaScriptCore keeps what a Map or Set held alive through young-generation
 * collections even after `delete` (a Map through which 1000 values passed keeps ~970 of them
 * past an eden GC, where an array slot set back to `undefined` keeps none). A stream reaches
 * its Request, its promise and the Response, so every request of the last GC period was
 * promoted, and every other collection had to be a full one (bench/RESULTS.md, 2026-12-07 night).
 *
 * Ids stay what they were: handed out in increasing order (u32, wrapping, never 0), so a frame
 * that raced with the end of its stream never reaches a later stream. The table picks them: an
 * id whose slot (`id & mask`) is taken by a stream still open — a long poll, a slow upload —
 * is skipped, and the table doubles before it is half full, so a slot is found in one or two
 * tries and two open streams never share one (doubling keeps distinct slots distinct).
 */

export class StreamTable<T extends { readonly id: number }> {
  private slots: (T | undefined)[] = new Array(64).fill(undefined);
  private mask = 63;
  private next = 1;
  /** Streams in the table. */
  size = 0;

  /**
   * An id for the next stream: `set` that stream before asking for another. Ids whose slot is
   * taken are skipped, so ids are increasing but not consecutive.
   */
  nextId(): number {
    if ((this.size + 1) * 2 > this.slots.length) this.grow();
    let id = this.next;
    while (this.slots[id & this.mask] !== undefined || id === 0) id = (id + 1) >>> 0;
    this.next = (id + 1) >>> 0;
    return id;
  }

  set(value: T): void {
    const i = value.id & this.mask;
    if (this.slots[i] !== undefined) throw new Error(`stream ${value.id}: its slot is taken`);
    this.slots[i] = value;
    this.size++;
  }

  get(id: number): T | undefined {
    const s = this.slots[id & this.mask];
    return s !== undefined && s.id === id ? s : undefined;
  }

  /** Remove the stream `id`, if it is in the table. */
  delete(id: number): boolean {
    const i = id & this.mask;
    const s = this.slots[i];
    if (s === undefined || s.id !== id) return false;
    this.slots[i] = undefined;
    this.size--;
    return true;
  }

  /** The streams in the table, as a new array (safe to change the table while walking it). */
  values(): T[] {
    const out: T[] = [];
    for (const s of this.slots) if (s !== undefined) out.push(s);
    return out;
  }

  clear(): void {
    this.slots.fill(undefined);
    this.size = 0;
  }

  private grow() {
    const slots = new Array<T | undefined>(this.slots.length * 2).fill(undefined);
    const mask = slots.length - 1;
    for (const s of this.slots) if (s !== undefined) slots[s.id & mask] = s;
    this.slots = slots;
    this.mask = mask;
  }
}
