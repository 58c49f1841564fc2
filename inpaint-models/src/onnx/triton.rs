//! A Triton model configuration (`config.pbtxt`) for an ONNX graph of one architecture.

use std::fmt::Write as _;

use inpaint_core::{Error, Result};

use super::{Architecture, Element, GraphPort};

/// The `config.pbtxt` that serves a graph with these ports on Triton's ONNX Runtime backend,
/// as model `name`: the graph's own shapes (symbolic dimensions as `-1`, so a dynamic LaMa
/// takes any multiple of 8), no server-side batching (`max_batch_size: 0`: the client sends
/// one image per request, batch dimension included), one instance per device.
///
/// The ports are checked against `architecture`'s contract first, as the client checks the
/// server's metadata: a repository the client would refuse is never written.
///
/// ```
/// use inpaint_models::onnx::{Architecture, Element, GraphPort};
/// use inpaint_models::onnx::triton_config;
///
/// let image = GraphPort::tensor("image", Element::Float32, [1, 3, -1, -1]);
/// let mask = GraphPort::tensor("mask", Element::Float32, [1, 1, -1, -1]);
/// let output = GraphPort::tensor("output", Element::Float32, [1, 3, -1, -1]);
/// let config = triton_config("lama", Architecture::LamaDynamic, &[image, mask], &[output])?;
/// assert!(config.contains("backend: \"onnxruntime\""));
/// assert!(config.contains("dims: [ 1, 3, -1, -1 ]"));
/// # Ok::<(), inpaint_core::Error>(())
/// ```
pub fn triton_config(
    name: &str,
    architecture: Architecture,
    inputs: &[GraphPort],
    outputs: &[GraphPort],
) -> Result<String> {
    architecture.check_ports(inputs, outputs, &format!("model `{name}`"))?;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        return Err(Error::invalid_input(format!(
            "Triton model name `{name}`: use letters, digits, `-`, `_` and `.` (it is also a \
             folder name)"
        )));
    }
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = writeln!(text, "name: \"{name}\"");
    let _ = writeln!(text, "backend: \"onnxruntime\"");
    let _ = writeln!(text, "max_batch_size: 0");
    for (section, ports) in [("input", inputs), ("output", outputs)] {
        let _ = writeln!(text, "{section} [");
        for (i, port) in ports.iter().enumerate() {
            let data_type = match &port.element {
                Some(Element::Float32) => "TYPE_FP32",
                Some(Element::Float16) => "TYPE_FP16",
                Some(Element::Uint8) => "TYPE_UINT8",
                Some(Element::Int64) => "TYPE_INT64",
                _ => {
                    return Err(Error::invalid_input(format!(
                        "{section} `{}` is {port}: no Triton type for it",
                        port.name
                    )));
                }
            };
            let dims: Vec<String> = port
                .dims
                .iter()
                .map(|&d| if d < 0 { -1 } else { d }.to_string())
                .collect();
            let _ = writeln!(text, "  {{");
            let _ = writeln!(text, "    name: \"{}\"", port.name);
            let _ = writeln!(text, "    data_type: {data_type}");
            let _ = writeln!(text, "    dims: [ {} ]", dims.join(", "));
            let comma = if i + 1 < ports.len() { "," } else { "" };
            let _ = writeln!(text, "  }}{comma}");
        }
        let _ = writeln!(text, "]");
    }
    let _ = writeln!(text, "instance_group [");
    let _ = writeln!(text, "  {{");
    let _ = writeln!(text, "    count: 1");
    let _ = writeln!(text, "    kind: KIND_AUTO");
    let _ = writeln!(text, "  }}");
    let _ = writeln!(text, "]");
    Ok(text)
}
