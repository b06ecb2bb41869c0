import zlib from 'node:zlib';

/**
 * A minimal zip writer for tests. Real zip tools refuse hostile names and cannot lie about sizes;
 * this one writes whatever it is told to: local file headers, data, central directory and the
 * end-of-central-directory record (no ZIP64, no data descriptors, no extra fields).
 */
export interface ZipSpec {
  name: string;
  data: Buffer;
  /** Default 'store'. A number writes that method code, with the data as given (e.g. 14 = LZMA). */
  method?: 'store' | 'deflate' | number;
  /** Uncompressed size to declare in both headers (a lie, when it differs from data.length). */
  declaredSize?: number;
  /** Sets the "encrypted" flag (bit 0); the data is not really encrypted. */
  encrypted?: boolean;
  /** The name's exact bytes, instead of `name` encoded as UTF-8. */
  rawName?: Buffer;
  /** General purpose bit 11 (name is UTF-8). Default: set, unless rawName is given (then CP437). */
  utf8?: boolean;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32 (IEEE), as zip uses it. zlib.crc32 exists from Node 20.15 / 22.2; the table is the fallback. */
export function crc32(data: Buffer): number {
  if (typeof zlib.crc32 === 'function') return zlib.crc32(data);
  let c = 0xffffffff;
  for (const b of data) c = (CRC_TABLE[(c ^ b) & 0xff] ?? 0) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

export function buildZip(specs: ZipSpec[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const s of specs) {
    const name = s.rawName ?? Buffer.from(s.name, 'utf8');
    const method = typeof s.method === 'number' ? s.method : s.method === 'deflate' ? 8 : 0;
    const body = method === 8 ? zlib.deflateRawSync(s.data) : s.data;
    const crc = crc32(s.data);
    const size = s.declaredSize ?? s.data.length;
    const flags = ((s.utf8 ?? !s.rawName) ? 0x0800 : 0) | (s.encrypted ? 0x0001 : 0);
    const dosTime = 0; // 00:00:00
    const dosDate = ((2025 - 1980) << 9) | (1 << 5) | 1; // 2025-01-01

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); // signature
    local.writeUInt16LE(20, 4); // version needed: 2.0
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(dosTime, 10);
    local.writeUInt16LE(dosDate, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18); // compressed size
    local.writeUInt32LE(size, 22); // uncompressed size
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28); // extra field length

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); // signature
    central.writeUInt16LE(20, 4); // version made by
    central.writeUInt16LE(20, 6); // version needed
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(dosTime, 12);
    central.writeUInt16LE(dosDate, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(size, 24);
    central.writeUInt16LE(name.length, 28);
    // 30 extra length, 32 comment length, 34 disk number, 36 internal attrs, 38 external attrs: 0
    central.writeUInt32LE(offset, 42); // local header offset

    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(0, 4); // this disk
  end.writeUInt16LE(0, 6); // disk with the central directory
  end.writeUInt16LE(specs.length, 8); // entries on this disk
  end.writeUInt16LE(specs.length, 10); // entries in total
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16); // central directory offset
  end.writeUInt16LE(0, 20); // comment length
  return Buffer.concat([...locals, cd, end]);
}
