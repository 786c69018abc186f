//! A `MachRecvStream` on the simulated kernel: a server task receives what a client task sends
//! through a name found with the bootstrap server.
//!
//! `cargo run -p mach-async --example recv_stream`

#[cfg(mach_backend = "sim")]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    use futures::StreamExt;
    use mach_async::{bootstrap, MachRecvStream, MessageBuilder, ReceiveRight, Space};

    let kernel = mach_async::mach_sim::Kernel::new();
    let server = Space::from_task(kernel.task_create("server", 100, 0, 0));
    let client = Space::from_task(kernel.task_create("client", 200, 501, 20));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let port = ReceiveRight::new_in(&server)?;
        bootstrap::register(&server, "org.example.echo", &port)?;
        let mut stream = MachRecvStream::new(port)?;
        let to_server = bootstrap::look_up(&client, "org.example.echo")?;
        for (id, text) in [(1, "hello"), (2, "from"), (3, "the client")] {
            to_server
                .send(
                    MessageBuilder::new(id)
                        .body(text.as_bytes().to_vec())
                        .build(),
                )
                .await?;
        }
        for _ in 0..3 {
            let msg = stream.next().await.expect("the stream is open")?;
            let pid = msg.audit_token().map(|t| t.pid());
            // Message bodies are padded to 4 bytes.
            let text = String::from_utf8_lossy(msg.body());
            println!(
                "message {} from pid {pid:?}: {}",
                msg.id(),
                text.trim_end_matches('\0')
            );
        }
        Ok::<_, mach_async::Error>(())
    })?;
    drop(rt);
    kernel.assert_no_leaks();
    Ok(())
}

#[cfg(not(mach_backend = "sim"))]
fn main() {
    eprintln!("this example runs on the simulated kernel (Linux, or feature `sim`)");
}
