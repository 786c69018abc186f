//! ipconfigd's MIG service and a client: the daemon checks in and serves `if_count` / `if_addr`
//! from a table; the `ipconfig` tool, in another simulated task, calls it.
//!
//! `cargo run -p ipconfig-rpc --example ipconfig_call`

#[cfg(mach_backend = "sim")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use std::net::Ipv4Addr;

    use ipconfig_rpc::mach_async::Space;
    use ipconfig_rpc::sim::Kernel;
    use ipconfig_rpc::{
        async_trait, CallContext, IfAddr, InterfaceName, IpconfigClient, IpconfigHandler,
        IpconfigServer, IpconfigStatus,
    };

    struct Table;

    #[async_trait]
    impl IpconfigHandler for Table {
        async fn if_count(&self, _: CallContext) -> Result<i32, i32> {
            Ok(1)
        }
        async fn if_addr(&self, name: InterfaceName, _: CallContext) -> Result<IfAddr, i32> {
            Ok(match name.lookup_key() {
                b"em0" => IfAddr {
                    addr: Ipv4Addr::new(192, 0, 2, 10),
                    status: IpconfigStatus::SUCCESS,
                },
                _ => IfAddr {
                    addr: Ipv4Addr::UNSPECIFIED,
                    status: IpconfigStatus::NO_SERVER,
                },
            })
        }
    }

    let kernel = Kernel::new();
    let daemon = Space::from_task(kernel.task_create("ipconfigd", 100, 0, 0));
    let tool = Space::from_task(kernel.task_create("ipconfig", 200, 501, 20));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        // The daemon checks in and serves; the tool looks the service up.
        let server = IpconfigServer::new(Table).check_in(&daemon)?;
        let client = IpconfigClient::open(&tool).await?;
        println!("if_count: {:?}", client.if_count().await?);
        for name in ["em0", "em1"] {
            let reply = client.if_addr(InterfaceName::new(name)?).await?;
            println!("if_addr {name}: {} ({:?})", reply.addr, reply.status);
        }
        client.close().await;
        let served = server.close().await;
        drop(served.port);
        Ok::<_, Box<dyn std::error::Error>>(())
    })?;
    drop(rt);
    kernel.assert_no_leaks();
    Ok(())
}

#[cfg(not(mach_backend = "sim"))]
fn main() {
    eprintln!("this example runs on the simulated kernel (Linux, or feature `sim`)");
}
