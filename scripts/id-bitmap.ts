/** The ids seen so far, one bit each (hundreds of millions fit), counting the distinct ones and the repeats. */
export class IdBitmap {
  #bits = new Uint8Array(1 << 24);
  unique = 0;
  duplicates = 0;

  /** Records `id`: a first sighting counts in `unique`, another in `duplicates`. */
  mark(id: number): void {
    const byte = id >>> 3;
    if (byte >= this.#bits.length) {
      const next = new Uint8Array(Math.max(this.#bits.length * 2, byte + 1));
      next.set(this.#bits);
      this.#bits = next;
    }
    const bit = 1 << (id & 7);
    if (this.#bits[byte]! & bit) this.duplicates++;
    else {
      this.#bits[byte]! |= bit;
      this.unique++;
    }
  }
}
