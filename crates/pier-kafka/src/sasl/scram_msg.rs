//! The grammar of the two SCRAM client messages (RFC 5802 §7), parsed
//! without copying: the exact text of each part matters, because the proof
//! is computed over the messages as sent.

use super::{Malformed, Mechanism, SaslError};

/// `gs2-header client-first-message-bare`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ClientFirst<'a> {
    /// `n,,` or `y,,` (with `a=` if given): `c=` in the final message must
    /// repeat it, which is how a downgrade of the header is detected.
    pub gs2_header: &'a str,
    /// Part of the AuthMessage the proof signs.
    pub bare: &'a str,
    /// Decoded: `=2C` and `=3D` become `,` and `=`.
    pub user: String,
    pub client_nonce: &'a str,
}

/// `c=... ,r=... [,ext] ,p=...`.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct ClientFinal<'a> {
    pub channel_binding: &'a str,
    pub nonce: &'a str,
    /// Part of the AuthMessage the proof signs.
    pub without_proof: &'a str,
    pub proof: &'a str,
}

pub(super) fn parse_client_first(
    mechanism: Mechanism,
    message: &str,
) -> Result<ClientFirst<'_>, SaslError> {
    let bad = |problem| SaslError::Malformed { mechanism, problem };
    let mut parts = message.splitn(3, ',');
    let (Some(flag), Some(raw_authzid), Some(bare)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad(Malformed::Expected("gs2 header")));
    };
    match flag {
        "n" | "y" => {}
        _ if flag.starts_with("p=") => return Err(SaslError::ChannelBindingUnsupported),
        _ => return Err(bad(Malformed::Gs2Header)),
    }
    let authzid = if raw_authzid.is_empty() {
        None
    } else {
        let raw = raw_authzid
            .strip_prefix("a=")
            .ok_or(bad(Malformed::Gs2Header))?;
        Some(decode_saslname(raw).ok_or(bad(Malformed::Username))?)
    };
    let gs2_header = &message[..flag.len() + raw_authzid.len() + 2];
    let mut attributes = bare.split(',');
    let first = attributes.next().unwrap_or_default();
    if first.starts_with("m=") {
        return Err(bad(Malformed::MandatoryExtension));
    }
    let raw_user = first
        .strip_prefix("n=")
        .ok_or(bad(Malformed::Expected("n=")))?;
    let user = decode_saslname(raw_user).ok_or(bad(Malformed::Username))?;
    let client_nonce = expect(attributes.next(), "r=").map_err(bad)?;
    if !is_nonce(client_nonce) {
        return Err(bad(Malformed::Nonce));
    }
    for extension in attributes {
        check_first_extension(mechanism, extension)?;
    }
    if authzid.is_some_and(|authzid| authzid != user) {
        return Err(SaslError::AuthzidMismatch(mechanism));
    }
    Ok(ClientFirst {
        gs2_header,
        bare,
        user,
        client_nonce,
    })
}

pub(super) fn parse_client_final(
    mechanism: Mechanism,
    message: &str,
) -> Result<ClientFinal<'_>, SaslError> {
    let bad = |problem| SaslError::Malformed { mechanism, problem };
    let (without_proof, last) = message
        .rsplit_once(',')
        .ok_or(bad(Malformed::Expected("p=")))?;
    let proof = last
        .strip_prefix("p=")
        .ok_or(bad(Malformed::Expected("p=")))?;
    let mut attributes = without_proof.split(',');
    let channel_binding = expect(attributes.next(), "c=").map_err(bad)?;
    let nonce = expect(attributes.next(), "r=").map_err(bad)?;
    for extension in attributes {
        match extension.split_once('=') {
            Some((key, _)) if !key.is_empty() && key != "p" => {}
            _ => return Err(bad(Malformed::Extension)),
        }
    }
    Ok(ClientFinal {
        channel_binding,
        nonce,
        without_proof,
        proof,
    })
}

/// The value of the attribute `prefix` (like `r=`), which must come next.
fn expect<'a>(attribute: Option<&'a str>, prefix: &'static str) -> Result<&'a str, Malformed> {
    attribute
        .and_then(|a| a.strip_prefix(prefix))
        .ok_or(Malformed::Expected(prefix))
}

/// Kafka's clients send `tokenauth=true` to log in with a delegation token;
/// accepting it as a password login would be wrong, so it is refused. Other
/// extensions are ignored, as the RFC asks.
fn check_first_extension(mechanism: Mechanism, extension: &str) -> Result<(), SaslError> {
    let Some((key, value)) = extension.split_once('=').filter(|(key, _)| !key.is_empty()) else {
        return Err(SaslError::Malformed {
            mechanism,
            problem: Malformed::Extension,
        });
    };
    if key == "tokenauth" && value.eq_ignore_ascii_case("true") {
        return Err(SaslError::TokenAuthUnsupported);
    }
    Ok(())
}

/// RFC 5802 `printable`: visible ASCII except `,`.
fn is_nonce(nonce: &str) -> bool {
    !nonce.is_empty()
        && nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
}

/// RFC 5802 `saslname`: `,` and `=` travel as `=2C` and `=3D`; any other
/// `=` is an error rather than a guess.
pub(super) fn decode_saslname(raw: &str) -> Option<String> {
    if raw.is_empty() || raw.contains('\0') {
        return None;
    }
    let mut name = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('=') {
        name.push_str(&rest[..at]);
        match rest.get(at..at + 3)? {
            "=2C" => name.push(','),
            "=3D" => name.push('='),
            _ => return None,
        }
        rest = &rest[at + 3..];
    }
    name.push_str(rest);
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const M: Mechanism = Mechanism::ScramSha256;

    #[test]
    fn saslname_decodes_the_two_escapes_and_nothing_else() {
        assert_eq!(decode_saslname("a=2Cb=3Dc").as_deref(), Some("a,b=c"));
        assert_eq!(decode_saslname("=3D2C").as_deref(), Some("=2C"));
        assert_eq!(decode_saslname("plain").as_deref(), Some("plain"));
        for bad in ["", "a=", "a=2", "a=2c", "a=41", "a=é", "a\0b"] {
            assert_eq!(decode_saslname(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn client_first_parts_are_found() {
        let first = parse_client_first(M, "y,a=us=2Cer,n=us=2Cer,r=abc,ext=1").unwrap();
        assert_eq!(first.gs2_header, "y,a=us=2Cer,");
        assert_eq!(first.bare, "n=us=2Cer,r=abc,ext=1");
        assert_eq!(first.user, "us,er");
        assert_eq!(first.client_nonce, "abc");
        assert_eq!(
            parse_client_first(M, "n,,n=u,r=x").unwrap().gs2_header,
            "n,,"
        );
    }

    #[test]
    fn client_first_refusals() {
        let bad = |problem| {
            Err(SaslError::Malformed {
                mechanism: M,
                problem,
            })
        };
        let parse = |m| parse_client_first(M, m);
        assert_eq!(
            parse("p=tls-unique,,n=u,r=x"),
            Err(SaslError::ChannelBindingUnsupported)
        );
        assert_eq!(
            parse("n,,n=u,r=x,tokenauth=TRUE"),
            Err(SaslError::TokenAuthUnsupported)
        );
        assert_eq!(
            parse("n,a=admin,n=u,r=x"),
            Err(SaslError::AuthzidMismatch(M))
        );
        assert_eq!(
            parse("n,,m=ext,n=u,r=x"),
            bad(Malformed::MandatoryExtension)
        );
        assert_eq!(parse("n,,n=u,r=x,novalue"), bad(Malformed::Extension));
        assert_eq!(parse("n,,n=u,r="), bad(Malformed::Nonce));
        assert_eq!(parse("n,,n=u,r=a b"), bad(Malformed::Nonce));
        assert_eq!(parse("n,,n=u=,r=x"), bad(Malformed::Username));
        assert_eq!(parse("x,,n=u,r=x"), bad(Malformed::Gs2Header));
        assert_eq!(parse("n,b=u,n=u,r=x"), bad(Malformed::Gs2Header));
        assert_eq!(parse("n,,n=u"), bad(Malformed::Expected("r=")));
        assert_eq!(parse("n,,r=x"), bad(Malformed::Expected("n=")));
        assert_eq!(parse("n,"), bad(Malformed::Expected("gs2 header")));
    }

    #[test]
    fn client_final_parts_are_found() {
        let last = parse_client_final(M, "c=biws,r=abc,ext=1,p=cHJvb2Y=").unwrap();
        assert_eq!(last.channel_binding, "biws");
        assert_eq!(last.nonce, "abc");
        assert_eq!(last.without_proof, "c=biws,r=abc,ext=1");
        assert_eq!(last.proof, "cHJvb2Y=");
    }

    #[test]
    fn client_final_refusals() {
        let bad = |problem| {
            Err(SaslError::Malformed {
                mechanism: M,
                problem,
            })
        };
        let parse = |m| parse_client_final(M, m);
        assert_eq!(parse("c=biws,r=abc"), bad(Malformed::Expected("p=")));
        assert_eq!(parse("c=biws,p=x"), bad(Malformed::Expected("r=")));
        assert_eq!(parse("r=abc,c=biws,p=x"), bad(Malformed::Expected("c=")));
        assert_eq!(parse("c=biws,r=abc,p=x,p=y"), bad(Malformed::Extension));
        assert_eq!(parse("c=biws,r=abc,=x,p=y"), bad(Malformed::Extension));
    }
}
