//! Free TCP ports on the loopback interface.

use std::net::{Ipv4Addr, TcpListener};

use anyhow::{Context, Result};

/// The address every emulator binds to: loopback only, never a public interface.
pub const LOOPBACK: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// Asks the OS for a currently free TCP port on 127.0.0.1.
///
/// The port is released before it is returned, so another process may take it before the
/// caller binds it. The emulator starters handle that: they confirm the child they spawned
/// owns the port and retry on a fresh port when it could not bind.
pub fn free_port() -> Result<u16> {
    let listener =
        TcpListener::bind((LOOPBACK, 0)).context("binding 127.0.0.1:0 to find a free port")?;
    let port = listener
        .local_addr()
        .context("reading the address of the probe listener")?
        .port();
    Ok(port)
}
