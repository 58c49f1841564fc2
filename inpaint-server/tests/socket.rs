//! Socket.IO as IOPaint's app uses it: Engine.IO 4 long-polling, the default namespace, and
//! `diffusion_finish` after every inpaint.

use image::{DynamicImage, ImageFormat};
use inpaint_server::ServerOptions;

use crate::support::{TestServer, encode, inpaint_body, photo, rect_mask};

#[test]
fn diffusion_finish_reaches_a_connected_client_after_an_inpaint() {
    let server = TestServer::start(ServerOptions::new());
    let poll = |sid: Option<&str>| {
        let mut url = format!("{}/socket.io/?EIO=4&transport=polling", server.url);
        if let Some(sid) = sid {
            url.push_str(&format!("&sid={sid}"));
        }
        url
    };
    // Handshake: `0{"sid":…}`.
    let open = crate::support::Reply::from(crate::support::agent().get(poll(None)).call());
    assert_eq!(open.status, 200);
    let text = String::from_utf8(open.body).unwrap();
    let handshake: serde_json::Value =
        serde_json::from_str(text.strip_prefix('0').unwrap()).unwrap();
    let sid = handshake["sid"].as_str().unwrap().to_owned();
    assert!(
        handshake["upgrades"]
            .as_array()
            .unwrap()
            .iter()
            .any(|u| u == "websocket")
    );
    // Connect to the default namespace, then read the connect acknowledgement.
    let connect =
        crate::support::Reply::from(crate::support::agent().post(poll(Some(&sid))).send("40"));
    assert_eq!(connect.status, 200, "{connect:?}");
    assert_eq!(connect.body, b"ok");
    // Polls until a packet containing `wanted` arrives, answering pings (`2`) with pongs.
    let read_until = |wanted: &str| {
        let mut seen = String::new();
        for _ in 0..5 {
            let reply =
                crate::support::Reply::from(crate::support::agent().get(poll(Some(&sid))).call());
            let text = String::from_utf8(reply.body).unwrap();
            assert_eq!(reply.status, 200, "{text} after {seen:?}");
            // Packets in one poll are separated by the record separator (0x1e).
            for packet in text.split('\u{1e}') {
                if packet == "2" {
                    let pong = crate::support::agent().post(poll(Some(&sid))).send("3");
                    assert_eq!(pong.unwrap().status(), 200);
                }
                if packet.contains(wanted) {
                    return packet.to_owned();
                }
            }
            seen.push_str(&text);
        }
        panic!("no `{wanted}` in the polls: {seen:?}");
    };
    assert!(read_until("40{").starts_with("40{\"sid\":"));

    let reply = server.post_json(
        "/api/v1/inpaint",
        &inpaint_body(
            &encode(&DynamicImage::ImageRgb8(photo(16, 16)), ImageFormat::Png),
            &encode(
                &DynamicImage::ImageLuma8(rect_mask(16, 16, (2, 2, 4, 4))),
                ImageFormat::Png,
            ),
        ),
    );
    assert_eq!(reply.status, 200);
    assert!(read_until("diffusion_finish").starts_with("42[\"diffusion_finish\""));
}
