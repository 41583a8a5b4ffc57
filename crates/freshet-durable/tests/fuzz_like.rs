//! The fuzz targets of `fuzz/` run as ordinary tests over many deterministic random inputs:
//! pure random bytes, and valid files with random damage (so the checksummed paths are reached).

use freshet_durable::checkpoint::{encode_part, CheckpointId, Manifest, PartInfo};
use freshet_durable::framing::{encode_frame, header, FileKind};
use freshet_durable::fuzz_entry;
use freshet_durable::wal::{encode_record, LogOffset};

/// xorshift64*: a tiny deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn mutate(rng: &mut Rng, mut v: Vec<u8>) -> Vec<u8> {
    for _ in 0..=rng.below(3) {
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] ^= 1 << rng.below(8);
            }
            1 => {
                let cut = rng.below(v.len() + 1);
                v.truncate(cut);
            }
            2 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            3 => {
                let n = rng.below(16);
                let extra = rng.bytes(n);
                let at = rng.below(v.len() + 1);
                v.splice(at..at, extra);
            }
            _ => {
                let n = rng.below(16);
                let extra = rng.bytes(n);
                v.extend(extra);
            }
        }
    }
    v
}

fn valid_segment(rng: &mut Rng, kind: FileKind) -> Vec<u8> {
    let mut v = header(kind).to_vec();
    for i in 0..rng.below(8) {
        let n = rng.below(40);
        encode_record(&mut v, LogOffset(7 + i as u64), &rng.bytes(n)).unwrap();
    }
    v
}

fn valid_manifest(rng: &mut Rng) -> Vec<u8> {
    let mut m = Manifest::new(CheckpointId(rng.next()), "fingerprint", rng.next());
    for i in 0..rng.below(4) {
        m.config.insert(format!("k{i}"), format!("v{}", rng.next()));
        m.source_positions.insert(format!("s{i}"), rng.bytes(8));
        m.pending_batches.push(rng.next());
        m.parts.push(PartInfo {
            worker: i,
            file: format!("part-{i:05}.bin"),
            crc32c: rng.next() as u32,
            len: rng.next() % 1000,
        });
    }
    m.encode().unwrap()
}

const ITERATIONS: usize = 20_000;

#[test]
fn wal_reader_random_inputs() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..ITERATIONS {
        let n = rng.below(200);
        fuzz_entry::wal_reader(&rng.bytes(n));
        let kind = if rng.below(2) == 0 {
            FileKind::Wal
        } else {
            FileKind::BatchLog
        };
        let seg = valid_segment(&mut rng, kind);
        fuzz_entry::wal_reader(&seg);
        let m = mutate(&mut rng, seg);
        fuzz_entry::wal_reader(&m);
        // Random bytes after a valid header reach the frame decoder.
        let mut h = header(kind).to_vec();
        h.extend(rng.bytes(n));
        fuzz_entry::wal_reader(&h);
    }
}

#[test]
fn manifest_reader_random_inputs() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    for _ in 0..ITERATIONS {
        let n = rng.below(200);
        fuzz_entry::manifest_reader(&rng.bytes(n));
        let man = valid_manifest(&mut rng);
        fuzz_entry::manifest_reader(&man);
        let payload = man[16..].to_vec();
        fuzz_entry::manifest_reader(&mutate(&mut rng, man));
        // Mutated payloads behind a fresh, valid frame reach the bincode decoder.
        let mut framed = header(FileKind::Manifest).to_vec();
        encode_frame(&mut framed, &mutate(&mut rng, payload)).unwrap();
        fuzz_entry::manifest_reader(&framed);
        let part = encode_part(CheckpointId(1), 2, &rng.bytes(n)).unwrap();
        fuzz_entry::manifest_reader(&mutate(&mut rng, part));
    }
}

#[test]
fn codec_reader_random_inputs() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for _ in 0..ITERATIONS {
        let n = rng.below(64);
        fuzz_entry::codec_reader(&rng.bytes(n));
        // Valid encodings, damaged.
        let v: Vec<(String, Option<Vec<u8>>)> = vec![("source-0".into(), Some(rng.bytes(8)))];
        let bytes = freshet_durable::codec::encode(&v).unwrap();
        fuzz_entry::codec_reader(&bytes);
        fuzz_entry::codec_reader(&mutate(&mut rng, bytes));
    }
}
