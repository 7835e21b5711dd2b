//! The encrypted Stratum V2 link to one pool, on a plain TCP
//! [`Connection`]: the Noise NX handshake (the pool's certificate checked
//! against its authority key), then binary frames both ways. The SRI's own
//! crates do the work (`codec_sv2` frames and encrypts, `noise_sv2` runs the
//! handshake, `parsers_sv2` types the messages); this file only moves bytes
//! between them and the socket, polled like the v1 session so one thread can
//! also submit shares and run its timers.
//!
//! Messages from the pool are turned into [`FromPool`], plain owned values
//! with just what the miner uses, so the session never holds the codec's
//! borrowed buffers. Frames are read a chunk at a time and one frame may not
//! exceed [`MAX_FRAME`]: a hostile pool cannot make the miner buffer more.

use std::io;
use std::time::{Duration, Instant};

use stratum_core::binary_sv2::{Seq0255, Str0255, Sv2Option, B032, U256};
use stratum_core::codec_sv2::{
    Decoded, Decrypted, Handshake, InitiatorSent, MessageFrame, NoiseDecoder, NoiseEncoder,
    TransportDecryptState, TransportEncryptState,
};
use stratum_core::common_messages_sv2::{Protocol, SetupConnection};
use stratum_core::mining_sv2::{
    OpenExtendedMiningChannel, OpenStandardMiningChannel, SubmitSharesExtended,
    SubmitSharesStandard, UpdateChannel,
};
use stratum_core::noise_sv2::{self, Initiator, INITIATOR_EXPECTED_HANDSHAKE_MESSAGE_SIZE};
use stratum_core::parsers_sv2::{
    message_type_to_name, AnyMessage, CommonMessages, IsSv2Message, Mining,
};

use super::key::AuthorityKey;
use crate::sources::stratum::transport::Connection;

/// The largest frame accepted from a pool. Mining messages are far smaller:
/// the largest, `NewExtendedMiningJob`, is two 64 KiB coinbase parts and
/// 255 merkle hashes.
pub const MAX_FRAME: usize = 256 * 1024;

/// The protocol version spoken (the only one defined).
pub const PROTOCOL_VERSION: u16 = 2;

/// `SetupConnection.Success` flag: the pool does not allow version rolling.
pub const REQUIRES_FIXED_VERSION: u32 = 1;

/// Why the link failed.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("the pool's certificate is not signed by the authority key {key} ({why}); check the key in the URL or --sv2-authority-key")]
    Certificate { key: String, why: String },
    #[error("Noise handshake failed: {0}")]
    Handshake(String),
    #[error("the pool sent no handshake answer within {0:?}")]
    HandshakeTimeout(Duration),
    #[error("the pool closed the connection")]
    Closed,
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    #[error("cannot decrypt the pool's data (the channel is broken): {0}")]
    Decrypt(String),
    #[error("a frame from the pool is larger than {MAX_FRAME} bytes")]
    FrameTooLarge,
    #[error("cannot encode {0}")]
    Encode(String),
}

impl LinkError {
    /// A failure that retrying will not fix: the pool is not who the key
    /// says.
    pub fn is_permanent(&self) -> bool {
        matches!(self, LinkError::Certificate { .. })
    }
}

/// A message from the pool, with what the miner needs of it.
#[derive(Clone, Debug, PartialEq)]
pub enum FromPool {
    SetupSuccess {
        version: u16,
        flags: u32,
    },
    SetupError {
        code: String,
    },
    ExtendedOpened {
        request_id: u32,
        channel_id: u32,
        target: [u8; 32],
        extranonce_size: u16,
        extranonce_prefix: Vec<u8>,
        group_channel_id: u32,
    },
    StandardOpened {
        request_id: u32,
        channel_id: u32,
        target: [u8; 32],
        extranonce_prefix: Vec<u8>,
        group_channel_id: u32,
    },
    OpenError {
        request_id: u32,
        code: String,
    },
    ExtendedJob(ExtendedJob),
    StandardJob(StandardJob),
    NewPrevHash {
        channel_id: u32,
        job_id: u32,
        prev_hash: [u8; 32],
        min_ntime: u32,
        nbits: u32,
    },
    SetTarget {
        channel_id: u32,
        target: [u8; 32],
    },
    SubmitSuccess {
        channel_id: u32,
        last_sequence_number: u32,
        accepted_count: u32,
    },
    SubmitError {
        channel_id: u32,
        sequence_number: u32,
        code: String,
    },
    SetExtranoncePrefix {
        channel_id: u32,
        extranonce_prefix: Vec<u8>,
    },
    CloseChannel {
        channel_id: u32,
        reason: String,
    },
    Reconnect {
        host: String,
        port: u16,
    },
    UpdateChannelError {
        channel_id: u32,
        code: String,
    },
    /// A message a mining client has no use for, by name.
    Other(String),
}

/// `NewExtendedMiningJob`: coinbase parts around the extranonce, the merkle
/// path; `min_ntime` is `None` for a future job (it starts with the
/// `SetNewPrevHash` that names it).
#[derive(Clone, Debug, PartialEq)]
pub struct ExtendedJob {
    pub channel_id: u32,
    pub job_id: u32,
    pub min_ntime: Option<u32>,
    pub version: u32,
    pub version_rolling_allowed: bool,
    pub merkle_path: Vec<[u8; 32]>,
    pub coinbase_prefix: Vec<u8>,
    pub coinbase_suffix: Vec<u8>,
}

/// `NewMiningJob` (standard channel): the merkle root is the pool's.
#[derive(Clone, Debug, PartialEq)]
pub struct StandardJob {
    pub channel_id: u32,
    pub job_id: u32,
    pub min_ntime: Option<u32>,
    pub version: u32,
    pub merkle_root: [u8; 32],
}

/// A message to the pool.
#[derive(Clone, Debug, PartialEq)]
pub enum ToPool {
    Setup {
        host: String,
        port: u16,
        vendor: String,
        firmware: String,
        device_id: String,
    },
    OpenExtended {
        request_id: u32,
        user: String,
        hash_rate: f32,
        min_extranonce_size: u16,
    },
    OpenStandard {
        request_id: u32,
        user: String,
        hash_rate: f32,
    },
    /// The channel's hash rate changed: the pool sets a new target from it
    /// (`SetTarget`), or refuses (`UpdateChannel.Error`).
    UpdateChannel { channel_id: u32, hash_rate: f32 },
    SubmitExtended {
        channel_id: u32,
        sequence_number: u32,
        job_id: u32,
        nonce: u32,
        ntime: u32,
        version: u32,
        extranonce: Vec<u8>,
    },
    SubmitStandard {
        channel_id: u32,
        sequence_number: u32,
        job_id: u32,
        nonce: u32,
        ntime: u32,
        version: u32,
    },
}

/// The first 255 bytes at most of `s` (cut on a character boundary).
fn cut255(s: &str) -> &[u8] {
    let mut end = s.len().min(255);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s.as_bytes()[..end]
}

/// A `Str0255` field: `s`, cut to fit.
fn str255(s: &str) -> Str0255<'_> {
    Str0255::new(cut255(s)).expect("255 bytes at most always fit a Str0255")
}

const MAX_TARGET: [u8; 32] = [0xff; 32];

impl ToPool {
    /// Serialize into a frame and hand it to `f` (the message borrows
    /// from `self`).
    fn with_message<R>(&self, f: impl FnOnce(AnyMessage<'_>) -> R) -> Result<R, LinkError> {
        let enc = |e: stratum_core::binary_sv2::Error| LinkError::Encode(format!("{e:?}"));
        let max_target = U256::from(&MAX_TARGET);
        let msg = match self {
            ToPool::Setup {
                host,
                port,
                vendor,
                firmware,
                device_id,
            } => AnyMessage::Common(CommonMessages::SetupConnection(SetupConnection {
                protocol: Protocol::MiningProtocol,
                min_version: PROTOCOL_VERSION,
                max_version: PROTOCOL_VERSION,
                flags: 0,
                endpoint_host: str255(host),
                endpoint_port: *port,
                vendor: str255(vendor),
                hardware_version: str255("cpu"),
                firmware: str255(firmware),
                device_id: str255(device_id),
            })),
            ToPool::OpenExtended {
                request_id,
                user,
                hash_rate,
                min_extranonce_size,
            } => AnyMessage::Mining(Mining::OpenExtendedMiningChannel(
                OpenExtendedMiningChannel {
                    request_id: *request_id,
                    user_identity: str255(user),
                    nominal_hash_rate: *hash_rate,
                    max_target,
                    min_extranonce_size: *min_extranonce_size,
                },
            )),
            ToPool::OpenStandard {
                request_id,
                user,
                hash_rate,
            } => AnyMessage::Mining(Mining::OpenStandardMiningChannel(
                OpenStandardMiningChannel {
                    request_id: *request_id,
                    user_identity: str255(user),
                    nominal_hash_rate: *hash_rate,
                    max_target,
                },
            )),
            ToPool::SubmitExtended {
                channel_id,
                sequence_number,
                job_id,
                nonce,
                ntime,
                version,
                extranonce,
            } => AnyMessage::Mining(Mining::SubmitSharesExtended(SubmitSharesExtended {
                channel_id: *channel_id,
                sequence_number: *sequence_number,
                job_id: *job_id,
                nonce: *nonce,
                ntime: *ntime,
                version: *version,
                extranonce: B032::new(extranonce).map_err(enc)?,
            })),
            ToPool::UpdateChannel {
                channel_id,
                hash_rate,
            } => AnyMessage::Mining(Mining::UpdateChannel(UpdateChannel {
                channel_id: *channel_id,
                nominal_hash_rate: *hash_rate,
                maximum_target: max_target,
            })),
            ToPool::SubmitStandard {
                channel_id,
                sequence_number,
                job_id,
                nonce,
                ntime,
                version,
            } => AnyMessage::Mining(Mining::SubmitSharesStandard(SubmitSharesStandard {
                channel_id: *channel_id,
                sequence_number: *sequence_number,
                job_id: *job_id,
                nonce: *nonce,
                ntime: *ntime,
                version: *version,
            })),
        };
        Ok(f(msg))
    }
}

fn text(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

fn u256(v: &U256<'_>) -> [u8; 32] {
    *v.as_array()
}

fn option(v: &Sv2Option<'_, u32>) -> Option<u32> {
    v.clone().into_inner()
}

fn path(v: &Seq0255<'_, U256<'_>>) -> Vec<[u8; 32]> {
    v.clone().into_inner().iter().map(u256).collect()
}

impl FromPool {
    /// The owned form of a parsed message.
    pub fn from_message(m: &AnyMessage<'_>) -> FromPool {
        use CommonMessages as C;
        use Mining as M;
        match m {
            AnyMessage::Common(C::SetupConnectionSuccess(s)) => FromPool::SetupSuccess {
                version: s.used_version,
                flags: s.flags,
            },
            AnyMessage::Common(C::SetupConnectionError(e)) => FromPool::SetupError {
                code: text(e.error_code.as_bytes()),
            },
            AnyMessage::Common(C::Reconnect(r)) => FromPool::Reconnect {
                host: text(r.new_host.as_bytes()),
                port: r.new_port,
            },
            AnyMessage::Mining(M::OpenExtendedMiningChannelSuccess(s)) => {
                FromPool::ExtendedOpened {
                    request_id: s.request_id,
                    channel_id: s.channel_id,
                    target: u256(&s.target),
                    extranonce_size: s.extranonce_size,
                    extranonce_prefix: s.extranonce_prefix.as_bytes().to_vec(),
                    group_channel_id: s.group_channel_id,
                }
            }
            AnyMessage::Mining(M::OpenStandardMiningChannelSuccess(s)) => {
                FromPool::StandardOpened {
                    request_id: s.request_id,
                    channel_id: s.channel_id,
                    target: u256(&s.target),
                    extranonce_prefix: s.extranonce_prefix.as_bytes().to_vec(),
                    group_channel_id: s.group_channel_id,
                }
            }
            AnyMessage::Mining(M::OpenMiningChannelError(e)) => FromPool::OpenError {
                request_id: e.request_id,
                code: text(e.error_code.as_bytes()),
            },
            AnyMessage::Mining(M::NewExtendedMiningJob(j)) => FromPool::ExtendedJob(ExtendedJob {
                channel_id: j.channel_id,
                job_id: j.job_id,
                min_ntime: option(&j.min_ntime),
                version: j.version,
                version_rolling_allowed: j.version_rolling_allowed,
                merkle_path: path(&j.merkle_path),
                coinbase_prefix: j.coinbase_tx_prefix.as_bytes().to_vec(),
                coinbase_suffix: j.coinbase_tx_suffix.as_bytes().to_vec(),
            }),
            AnyMessage::Mining(M::NewMiningJob(j)) => FromPool::StandardJob(StandardJob {
                channel_id: j.channel_id,
                job_id: j.job_id,
                min_ntime: option(&j.min_ntime),
                version: j.version,
                merkle_root: u256(&j.merkle_root),
            }),
            AnyMessage::Mining(M::SetNewPrevHash(p)) => FromPool::NewPrevHash {
                channel_id: p.channel_id,
                job_id: p.job_id,
                prev_hash: u256(&p.prev_hash),
                min_ntime: p.min_ntime,
                nbits: p.nbits,
            },
            AnyMessage::Mining(M::SetTarget(t)) => FromPool::SetTarget {
                channel_id: t.channel_id,
                target: u256(&t.maximum_target),
            },
            AnyMessage::Mining(M::SubmitSharesSuccess(s)) => FromPool::SubmitSuccess {
                channel_id: s.channel_id,
                last_sequence_number: s.last_sequence_number,
                accepted_count: s.new_submits_accepted_count,
            },
            AnyMessage::Mining(M::SubmitSharesError(e)) => FromPool::SubmitError {
                channel_id: e.channel_id,
                sequence_number: e.sequence_number,
                code: text(e.error_code.as_bytes()),
            },
            AnyMessage::Mining(M::SetExtranoncePrefix(s)) => FromPool::SetExtranoncePrefix {
                channel_id: s.channel_id,
                extranonce_prefix: s.extranonce_prefix.as_bytes().to_vec(),
            },
            AnyMessage::Mining(M::CloseChannel(c)) => FromPool::CloseChannel {
                channel_id: c.channel_id,
                reason: text(c.reason_code.as_bytes()),
            },
            AnyMessage::Mining(M::UpdateChannelError(e)) => FromPool::UpdateChannelError {
                channel_id: e.channel_id,
                code: text(e.error_code.as_bytes()),
            },
            other => FromPool::Other(message_type_to_name(other.message_type()).to_string()),
        }
    }
}

/// The encrypted link.
pub struct Link {
    conn: Connection,
    encoder: NoiseEncoder,
    decoder: NoiseDecoder,
    enc: TransportEncryptState,
    /// `None` once a decryption failed: the link is then dead.
    dec: Option<TransportDecryptState>,
    /// Bytes read from the socket, not yet given to the decoder.
    inbuf: Vec<u8>,
    /// Bytes given to the decoder since the last whole frame.
    in_frame: usize,
}

/// Move whole decoder windows from `inbuf` into `decoder`; `false` when
/// more bytes are needed first.
fn feed(decoder: &mut NoiseDecoder, inbuf: &mut Vec<u8>, in_frame: &mut usize) -> bool {
    let want = decoder.writable_len();
    if want == 0 {
        return true;
    }
    if inbuf.len() < want {
        return false;
    }
    decoder.writable().copy_from_slice(&inbuf[..want]);
    inbuf.drain(..want);
    *in_frame += want;
    true
}

/// Read what the socket has (one poll interval at most) into `inbuf`.
fn fill(conn: &mut Connection, inbuf: &mut Vec<u8>) -> Result<bool, LinkError> {
    let mut buf = [0u8; 16 * 1024];
    match conn.poll(&mut buf)? {
        None => Ok(false),
        Some(0) => Err(LinkError::Closed),
        Some(n) => {
            inbuf.extend_from_slice(&buf[..n]);
            Ok(true)
        }
    }
}

impl Link {
    /// Run the Noise handshake as initiator on `conn`; the pool's
    /// certificate must be signed by `key` and valid now.
    pub fn handshake(
        mut conn: Connection,
        key: AuthorityKey,
        timeout: Duration,
    ) -> Result<Link, LinkError> {
        let initiator = Initiator::from_raw_k(key.to_bytes())
            .map_err(|e| LinkError::Handshake(format!("{e:?}")))?;
        let (first, sent) = Handshake::initiator(initiator)
            .step_0()
            .map_err(|e| LinkError::Handshake(e.to_string()))?;
        let mut encoder = NoiseEncoder::new();
        let mut decoder = NoiseDecoder::new();
        conn.write_bytes(encoder.encode_handshake(first).as_ref())?;
        let deadline = Instant::now() + timeout;
        let mut inbuf = Vec::new();
        let mut in_frame = 0;
        let answer = loop {
            if feed(&mut decoder, &mut inbuf, &mut in_frame) {
                match decoder.next_handshake_frame::<InitiatorSent>() {
                    Ok(Decoded::Frame(m)) => break m,
                    Ok(Decoded::Incomplete(_)) => continue,
                    Err(e) => return Err(LinkError::Handshake(e.to_string())),
                }
            }
            if Instant::now() >= deadline {
                return Err(LinkError::HandshakeTimeout(timeout));
            }
            fill(&mut conn, &mut inbuf)?;
        };
        let answer: [u8; INITIATOR_EXPECTED_HANDSHAKE_MESSAGE_SIZE] =
            answer
                .payload()
                .try_into()
                .map_err(|_| LinkError::Handshake("handshake answer of the wrong size".into()))?;
        let transport = finish(sent, answer, key)?;
        let (enc, dec) = transport.split();
        Ok(Link {
            conn,
            encoder,
            decoder,
            enc,
            dec: Some(dec),
            inbuf,
            in_frame: 0,
        })
    }

    /// Encrypt and send one message.
    pub fn send(&mut self, msg: &ToPool) -> Result<(), LinkError> {
        let bytes = msg.with_message(|m| {
            let frame = MessageFrame::<AnyMessage<'_>>::try_from(m)
                .map_err(|e| LinkError::Encode(format!("{e:?}")))?;
            self.encoder
                .encode_transport(frame, &mut self.enc)
                .map(|s| AsRef::<[u8]>::as_ref(&s).to_vec())
                .map_err(|e| LinkError::Encode(e.to_string()))
        })??;
        self.conn.write_bytes(&bytes)?;
        Ok(())
    }

    /// The next message: from what is buffered, else after one poll of
    /// the socket. `Ok(None)` when no whole frame is there yet.
    pub fn poll(&mut self) -> Result<Option<FromPool>, LinkError> {
        if let Some(m) = self.next_buffered()? {
            return Ok(Some(m));
        }
        if fill(&mut self.conn, &mut self.inbuf)? {
            return self.next_buffered();
        }
        Ok(None)
    }

    fn next_buffered(&mut self) -> Result<Option<FromPool>, LinkError> {
        loop {
            if !feed(&mut self.decoder, &mut self.inbuf, &mut self.in_frame) {
                return Ok(None);
            }
            if self.in_frame > MAX_FRAME {
                self.dec = None;
                return Err(LinkError::FrameTooLarge);
            }
            let state = self
                .dec
                .take()
                .ok_or_else(|| LinkError::Decrypt("an earlier frame failed".into()))?;
            match self.decoder.next_transport_frame(state) {
                Ok(Decrypted::Incomplete(_, state)) => self.dec = Some(state),
                Ok(Decrypted::Frame(mut frame, state)) => {
                    self.dec = Some(state);
                    self.in_frame = 0;
                    let header = frame.header();
                    let msg = match AnyMessage::try_from((header, frame.payload())) {
                        Ok(m) => FromPool::from_message(&m),
                        Err(e) => FromPool::Other(format!(
                            "message type {:#04x} that does not parse ({e:?})",
                            header.msg_type()
                        )),
                    };
                    return Ok(Some(msg));
                }
                Err(e) => return Err(LinkError::Decrypt(e.to_string())),
            }
        }
    }

    pub fn close(self) {
        self.conn.close();
    }
}

/// The handshake's last step, its certificate errors in words.
fn finish(
    sent: Handshake<InitiatorSent>,
    answer: [u8; INITIATOR_EXPECTED_HANDSHAKE_MESSAGE_SIZE],
    key: AuthorityKey,
) -> Result<stratum_core::codec_sv2::Transport, LinkError> {
    sent.step_2(answer).map_err(|e| match e {
        stratum_core::codec_sv2::Error::NoiseSv2Error(noise_sv2::Error::InvalidCertificate(c)) => {
            LinkError::Certificate {
                key: key.to_string(),
                why: format!("{c}"),
            }
        }
        other => LinkError::Handshake(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_to_the_pool_fit_their_frames() {
        let msgs = [
            ToPool::Setup {
                host: "h".repeat(300),
                port: 3333,
                vendor: "noncesweep".into(),
                firmware: "0.1.0".into(),
                device_id: "é".repeat(200),
            },
            ToPool::OpenExtended {
                request_id: 1,
                user: "bcrt1qexample.worker".into(),
                hash_rate: 5.0e7,
                min_extranonce_size: 4,
            },
            ToPool::SubmitExtended {
                channel_id: 1,
                sequence_number: 7,
                job_id: 3,
                nonce: 0xdead_beef,
                ntime: 1_700_000_000,
                version: 0x2000_0000,
                extranonce: vec![1, 2, 3, 4],
            },
        ];
        for m in msgs {
            let n = m
                .with_message(|any| MessageFrame::<AnyMessage<'_>>::try_from(any).is_ok())
                .unwrap();
            assert!(n, "{m:?}");
        }
    }

    #[test]
    fn update_channel_carries_the_rate_and_no_cap_on_the_target() {
        let m = ToPool::UpdateChannel {
            channel_id: 7,
            hash_rate: 3.0e7,
        };
        let (id, rate, max) = m
            .with_message(|any| match any {
                AnyMessage::Mining(Mining::UpdateChannel(u)) => (
                    u.channel_id,
                    u.nominal_hash_rate,
                    u.maximum_target.to_array().to_vec(),
                ),
                other => panic!("{other:?}"),
            })
            .unwrap();
        assert_eq!((id, rate), (7, 3.0e7));
        assert_eq!(max, vec![0xff; 32]);
    }

    /// The SRI's own responder (the pool's half of the handshake) on a
    /// loopback socket: it answers the handshake, sends `frames` (plain
    /// messages, encrypted) and then `raw` bytes as they are.
    fn pool_side(
        secret: [u8; 32],
        frames: Vec<AnyMessage<'static>>,
        raw: Vec<u8>,
    ) -> (std::net::SocketAddr, std::thread::JoinHandle<()>) {
        use bitcoin::secp256k1::{Keypair, Secp256k1};
        use std::io::{Read, Write};
        use stratum_core::noise_sv2::{Responder, ELLSWIFT_ENCODING_SIZE};
        let kp = Keypair::from_seckey_slice(&Secp256k1::new(), &secret).unwrap();
        let public = kp.x_only_public_key().0.serialize();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let t = std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            let responder =
                Responder::from_authority_kp(&public, &secret, Duration::from_secs(3600)).unwrap();
            let mut first = [0u8; ELLSWIFT_ENCODING_SIZE];
            s.read_exact(&mut first).unwrap();
            let (answer, transport) = Handshake::responder(responder).step_1(first).unwrap();
            let mut encoder = NoiseEncoder::new();
            s.write_all(encoder.encode_handshake(answer).as_ref())
                .unwrap();
            let (mut enc, _dec) = transport.split();
            for m in frames {
                let frame = MessageFrame::<AnyMessage<'_>>::try_from(m).unwrap();
                let bytes = encoder.encode_transport(frame, &mut enc).unwrap();
                s.write_all(AsRef::<[u8]>::as_ref(&bytes)).unwrap();
            }
            s.write_all(&raw).unwrap();
            // Keep the socket open until the client has read everything.
            let _ = s.read(&mut [0u8; 1]);
        });
        (addr, t)
    }

    fn key_of(secret: [u8; 32]) -> AuthorityKey {
        use bitcoin::secp256k1::{Keypair, Secp256k1};
        let kp = Keypair::from_seckey_slice(&Secp256k1::new(), &secret).unwrap();
        let mut raw = [0u8; 34];
        raw[0] = 1;
        raw[2..].copy_from_slice(&kp.x_only_public_key().0.serialize());
        bitcoin::base58::encode_check(&raw).parse().unwrap()
    }

    fn connect(addr: std::net::SocketAddr) -> Connection {
        let url: crate::sources::pool::PoolUrl = format!("stratum+tcp://{addr}").parse().unwrap();
        Connection::open(&url, None, Duration::from_secs(5)).unwrap()
    }

    #[test]
    fn a_real_frame_is_read_and_garbage_after_it_breaks_the_link_without_a_panic() {
        use stratum_core::common_messages_sv2::SetupConnectionSuccess;
        let secret = [0x11; 32];
        let success = AnyMessage::Common(CommonMessages::SetupConnectionSuccess(
            SetupConnectionSuccess {
                used_version: 2,
                flags: 0,
            },
        ));
        let (addr, pool) = pool_side(secret, vec![success], vec![0x5a; 200]);
        let mut link = Link::handshake(connect(addr), key_of(secret), Duration::from_secs(5))
            .expect("handshake with the right key");
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut got = Vec::new();
        let err = loop {
            assert!(Instant::now() < deadline, "no error from garbage: {got:?}");
            match link.poll() {
                Ok(Some(m)) => got.push(m),
                Ok(None) => {}
                Err(e) => break e,
            }
        };
        assert_eq!(
            got,
            vec![FromPool::SetupSuccess {
                version: 2,
                flags: 0
            }]
        );
        assert!(matches!(err, LinkError::Decrypt(_)), "{err}");
        // The link stays dead: no frame is ever read after a failure.
        assert!(link.poll().is_err());
        link.close();
        pool.join().unwrap();
    }

    #[test]
    fn a_pool_without_the_authority_key_fails_the_handshake_with_a_certificate_error() {
        let (addr, pool) = pool_side([0x11; 32], vec![], vec![]);
        let wrong = key_of([0x22; 32]);
        let err = Link::handshake(connect(addr), wrong, Duration::from_secs(5))
            .err()
            .expect("refused");
        assert!(err.is_permanent(), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("not signed by the authority key {wrong}")),
            "{err}"
        );
        drop(pool);
    }

    #[test]
    fn long_strings_are_cut_on_a_char_boundary() {
        assert_eq!(cut255(&"é".repeat(200)).len(), 254);
        assert_eq!(cut255("abc"), b"abc");
    }
}
