//! Solo mining against the user's own node: getblocktemplate in,
//! submitblock out (BIP22/BIP23 with BIP9 rules and BIP145 segwit).
//!
//! - [`rpc`]: the JSON-RPC client, its authentication and error words;
//! - [`template`]: parsing and validating a template, building the job the
//!   engine mines, and turning a found share back into a full block;
//! - [`pending`]: found blocks kept on disk until the node has answered;
//! - [`solo`]: the loop that ties node, engine and pending store together.

pub mod pending;
pub mod rpc;
pub mod solo;
pub mod template;

use std::fmt;

/// The networks a node can be on, named as `bitcoin-cli` and the user do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    Mainnet,
    Testnet3,
    Testnet4,
    Signet,
    Regtest,
}

impl Network {
    /// Every network, for messages and parsing.
    pub const ALL: [Network; 5] = [
        Network::Mainnet,
        Network::Testnet3,
        Network::Testnet4,
        Network::Signet,
        Network::Regtest,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Network::Mainnet => "mainnet",
            Network::Testnet3 => "testnet3",
            Network::Testnet4 => "testnet4",
            Network::Signet => "signet",
            Network::Regtest => "regtest",
        }
    }

    /// The sub-directory of the data directory holding this network's
    /// files (`None` for mainnet, which uses the data directory itself).
    pub fn data_subdir(self) -> Option<&'static str> {
        match self {
            Network::Mainnet => None,
            other => Some(other.name()),
        }
    }

    /// The network whose chain name `getblockchaininfo` reports (`main`,
    /// `test`, `testnet4`, `signet`, `regtest`).
    pub fn from_chain_name(chain: &str) -> Option<Network> {
        Some(match chain {
            "main" => Network::Mainnet,
            "test" | "testnet3" => Network::Testnet3,
            "testnet4" => Network::Testnet4,
            "signet" => Network::Signet,
            "regtest" => Network::Regtest,
            _ => return None,
        })
    }

    /// The network Bitcoin Core's default RPC port belongs to, so that
    /// `--rpc-url http://127.0.0.1:18443` alone finds the regtest cookie.
    pub fn from_default_rpc_port(port: u16) -> Option<Network> {
        Some(match port {
            8332 => Network::Mainnet,
            18332 => Network::Testnet3,
            48332 => Network::Testnet4,
            38332 => Network::Signet,
            18443 => Network::Regtest,
            _ => return None,
        })
    }

    /// The `bitcoin` crate's network (for address checks).
    pub fn to_bitcoin(self) -> bitcoin::Network {
        match self {
            Network::Mainnet => bitcoin::Network::Bitcoin,
            Network::Testnet3 => bitcoin::Network::Testnet,
            Network::Testnet4 => bitcoin::Network::Testnet4,
            Network::Signet => bitcoin::Network::Signet,
            Network::Regtest => bitcoin::Network::Regtest,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Network {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.to_ascii_lowercase();
        let alias = match s.as_str() {
            "main" | "bitcoin" => "mainnet",
            "test" | "testnet" => "testnet3",
            other => other,
        };
        Network::ALL
            .into_iter()
            .find(|n| n.name() == alias)
            .ok_or_else(|| {
                format!(
                    "unknown network {s:?}: use one of {}",
                    Network::ALL.map(Network::name).join(", ")
                )
            })
    }
}

/// Parse `address` and check that it belongs to `network`.
pub fn payout_script(address: &str, network: Network) -> Result<bitcoin::ScriptBuf, String> {
    let unchecked: bitcoin::Address<bitcoin::address::NetworkUnchecked> = address
        .trim()
        .parse()
        .map_err(|e| format!("{address:?} is not a Bitcoin address: {e}"))?;
    match unchecked.require_network(network.to_bitcoin()) {
        Ok(a) => Ok(a.script_pubkey()),
        Err(_) => {
            let actual = Network::ALL
                .into_iter()
                .find(|n| {
                    let u: bitcoin::Address<bitcoin::address::NetworkUnchecked> =
                        address.trim().parse().expect("parsed above");
                    u.is_valid_for_network(n.to_bitcoin())
                })
                .map(|n| format!(" (it is a {n} address)"))
                .unwrap_or_default();
            Err(format!(
                "the payout address {address} is not valid on the node's network, {network}{actual}: give an address of the node's own network"
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_parse_and_map() {
        for n in Network::ALL {
            assert_eq!(n.name().parse::<Network>().unwrap(), n);
        }
        assert_eq!(Network::from_chain_name("main"), Some(Network::Mainnet));
        assert_eq!(Network::from_chain_name("test"), Some(Network::Testnet3));
        assert!("moon".parse::<Network>().is_err());
        assert_eq!(
            Network::from_default_rpc_port(18443),
            Some(Network::Regtest)
        );
    }

    #[test]
    fn address_network_is_checked() {
        let main = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
        assert!(payout_script(main, Network::Mainnet).is_ok());
        let e = payout_script(main, Network::Regtest).unwrap_err();
        assert!(
            e.contains("regtest") && e.contains("mainnet address"),
            "{e}"
        );
        assert!(payout_script(
            "bcrt1q9s6k5ydxccfgx2ewwrtjxz54p5ttuzhp0mc9q7",
            Network::Regtest
        )
        .is_ok());
        assert!(payout_script("nonsense", Network::Regtest).is_err());
    }
}
