//! Reading an ONNX file's graph inputs, outputs and metadata without loading it, and matching
//! them against the architecture contracts of `inpaint-models`.
//!
//! Only these fields are read (ONNX `onnx.proto`):
//!
//! ```text
//! ModelProto      1 ir_version, 7 graph, 8 opset_import (1 domain, 2 version),
//!                 14 metadata_props (1 key, 2 value)
//! GraphProto      5 initializer (TensorProto: 8 name only), 11 input, 12 output
//! ValueInfoProto  1 name, 2 type
//! TypeProto       1 tensor_type (1 elem_type, 2 shape → 1 dim → 1 dim_value | 2 dim_param)
//! ```
//!
//! Everything else (nodes, the weights' raw data) is skipped by seeking. Initializer names are
//! read because older exports list every weight among the graph inputs; ONNX Runtime does not
//! count those as inputs, and neither does this probe.
//!
//! The ports are then judged by `inpaint-models`' own contract check
//! ([`Architecture::accepts`]), the one [`OnnxModel::load`](inpaint_models::onnx::OnnxModel::load)
//! runs on a loaded session.

use std::collections::HashSet;
use std::fmt;
use std::io::{Read, Seek};

use inpaint_models::onnx::{Architecture, Element, GraphPort, OutputRange};

use super::protobuf::{PbError, PbReader, PbResult, Wire, expect_wire};

/// Longest name, dim parameter or metadata key read, in bytes.
const MAX_NAME: u64 = 4096;
/// Longest `inpaint.*` metadata value read, in bytes.
const MAX_VALUE: u64 = 4096;
/// Most bytes of names kept (graph inputs, outputs and initializer names together).
const NAME_BUDGET: u64 = 32 * 1024 * 1024;
/// Most dimensions of one tensor.
const MAX_DIMS: usize = 64;
/// Most `inpaint.*` metadata entries kept.
const MAX_METADATA: usize = 64;

/// The metadata key that declares the architecture (`lama`, `migan`, …), checked against the
/// graph: for files whose contract is shared by several architectures (MI-GAN and FcF).
pub const ARCHITECTURE_METADATA_KEY: &str = "inpaint.architecture";

/// One dimension of a tensor's shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dim {
    /// A fixed size.
    Fixed(i64),
    /// A symbolic size, with its name when the file gives one.
    Symbolic(Option<String>),
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Symbolic(Some(name)) => f.write_str(name),
            Dim::Symbolic(None) => f.write_str("?"),
        }
    }
}

/// What a graph input or output holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueKind {
    /// A tensor of ONNX element type `elem_type` (1 = float32, 2 = uint8, 10 = float16, …);
    /// `shape` is `None` when the file gives none.
    Tensor {
        /// ONNX `TensorProto.DataType`.
        elem_type: i32,
        /// The dimensions, when declared.
        shape: Option<Vec<Dim>>,
    },
    /// A sequence, map, optional or sparse tensor, or no type at all.
    Other(&'static str),
}

/// A graph input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Port {
    /// Its name.
    pub name: String,
    /// What it holds.
    pub kind: ValueKind,
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` ", self.name)?;
        match &self.kind {
            ValueKind::Tensor { elem_type, shape } => {
                f.write_str(elem_type_name(*elem_type))?;
                match shape {
                    Some(dims) => {
                        f.write_str(" [")?;
                        for (i, d) in dims.iter().enumerate() {
                            if i > 0 {
                                f.write_str(",")?;
                            }
                            write!(f, "{d}")?;
                        }
                        f.write_str("]")
                    }
                    None => f.write_str(" (no shape)"),
                }
            }
            ValueKind::Other(what) => f.write_str(what),
        }
    }
}

/// The name of an ONNX element type.
pub fn elem_type_name(elem_type: i32) -> &'static str {
    match elem_type {
        1 => "float32",
        2 => "uint8",
        3 => "int8",
        4 => "uint16",
        5 => "int16",
        6 => "int32",
        7 => "int64",
        8 => "string",
        9 => "bool",
        10 => "float16",
        11 => "float64",
        12 => "uint32",
        13 => "uint64",
        16 => "bfloat16",
        _ => "other",
    }
}

const FLOAT16: i32 = 10;

/// What the probe read from an ONNX file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OnnxGraph {
    /// `ModelProto.ir_version`.
    pub ir_version: Option<u64>,
    /// The default-domain opset.
    pub opset: Option<u64>,
    /// Graph inputs, without those that are initializers (weights).
    pub inputs: Vec<Port>,
    /// Graph outputs.
    pub outputs: Vec<Port>,
    /// `metadata_props` entries whose key starts with `inpaint.`.
    pub metadata: Vec<(String, String)>,
    /// Bytes read from the file (buffered reads; skipped weights are not read).
    pub bytes_read: u64,
}

impl OnnxGraph {
    /// The graph's inputs and outputs as the contract check sees them.
    pub fn ports(&self) -> (Vec<GraphPort>, Vec<GraphPort>) {
        (graph_ports(&self.inputs), graph_ports(&self.outputs))
    }

    /// The value of metadata key `key`, when the file has it.
    pub fn metadata(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a file is not a readable ONNX model.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// Not ONNX, corrupt, truncated or absurd: the reason.
    Invalid(String),
    /// The file could not be read.
    Io(std::io::Error),
}

fn invalid(err: PbError) -> ReadError {
    match err {
        PbError::Malformed(m) => ReadError::Invalid(format!("not a valid ONNX protobuf: {m}")),
        PbError::Truncated(m) => ReadError::Invalid(format!("truncated: {m}")),
        PbError::Limit(m) => ReadError::Invalid(format!("beyond the probe's limits: {m}")),
        PbError::Io(e) => ReadError::Io(e),
    }
}

/// Reads the graph's interface from `file`, `len` bytes long.
pub(crate) fn read_graph<R: Read + Seek>(file: R, len: u64) -> Result<OnnxGraph, ReadError> {
    if len == 0 {
        return Err(ReadError::Invalid("empty file".into()));
    }
    let mut reader = PbReader::new(file, len);
    let mut state = State::default();
    parse_model(&mut reader, &mut state).map_err(invalid)?;
    if !state.saw_graph {
        return Err(ReadError::Invalid(
            "no graph (ModelProto field 7): not an ONNX model".into(),
        ));
    }
    let initializers = state.initializers;
    let inputs = state
        .inputs
        .into_iter()
        .filter(|p| !initializers.contains(&p.name))
        .collect();
    Ok(OnnxGraph {
        ir_version: state.ir_version,
        opset: state.opset,
        inputs,
        outputs: state.outputs,
        metadata: state.metadata,
        bytes_read: reader.bytes_read(),
    })
}

#[derive(Default)]
struct State {
    ir_version: Option<u64>,
    opset: Option<u64>,
    saw_graph: bool,
    inputs: Vec<Port>,
    outputs: Vec<Port>,
    initializers: HashSet<String>,
    metadata: Vec<(String, String)>,
    name_bytes: u64,
}

impl State {
    fn spend(&mut self, name: &str) -> PbResult<()> {
        self.name_bytes += name.len() as u64;
        if self.name_bytes > NAME_BUDGET {
            return Err(PbError::Limit(format!(
                "more than {NAME_BUDGET} bytes of tensor names"
            )));
        }
        Ok(())
    }
}

fn parse_model<R: Read + Seek>(r: &mut PbReader<R>, st: &mut State) -> PbResult<()> {
    let end = r.len();
    while r.pos() < end {
        let (field, wire) = r.tag(end)?;
        match field {
            1 => {
                expect_wire("ModelProto", field, wire, Wire::Varint)?;
                st.ir_version = Some(r.varint(end)?);
            }
            7 => {
                expect_wire("ModelProto", field, wire, Wire::Len)?;
                let graph_end = r.len_end(end, "the graph (ModelProto field 7)")?;
                st.saw_graph = true;
                parse_graph(r, st, graph_end)?;
            }
            8 => {
                expect_wire("ModelProto", field, wire, Wire::Len)?;
                let op_end = r.len_end(end, "an opset import")?;
                parse_opset(r, st, op_end)?;
            }
            14 => {
                expect_wire("ModelProto", field, wire, Wire::Len)?;
                let entry_end = r.len_end(end, "a metadata entry")?;
                parse_metadata(r, st, entry_end)?;
            }
            _ => r.skip(wire, end)?,
        }
    }
    Ok(())
}

fn parse_opset<R: Read + Seek>(r: &mut PbReader<R>, st: &mut State, end: u64) -> PbResult<()> {
    let mut domain = String::new();
    let mut version = None;
    while r.pos() < end {
        let (field, wire) = r.tag(end)?;
        match (field, wire) {
            (1, Wire::Len) => domain = r.string(end, MAX_NAME, "an opset domain")?,
            (2, Wire::Varint) => version = Some(r.varint(end)?),
            _ => r.skip(wire, end)?,
        }
    }
    if domain.is_empty() || domain == "ai.onnx" {
        st.opset = version.or(st.opset);
    }
    Ok(())
}

fn parse_metadata<R: Read + Seek>(r: &mut PbReader<R>, st: &mut State, end: u64) -> PbResult<()> {
    let mut key = None;
    let mut value = None;
    while r.pos() < end {
        let (field, wire) = r.tag(end)?;
        match (field, wire) {
            (1, Wire::Len) => key = Some(r.string(end, MAX_NAME, "a metadata key")?),
            // Only our own keys' values are read; others (licences, docs) can be long.
            (2, Wire::Len) if key.as_deref().is_some_and(|k| k.starts_with("inpaint.")) => {
                value = Some(r.string(end, MAX_VALUE, "a metadata value")?);
            }
            _ => r.skip(wire, end)?,
        }
    }
    if let (Some(key), Some(value)) = (key, value) {
        if st.metadata.len() >= MAX_METADATA {
            return Err(PbError::Limit(format!(
                "more than {MAX_METADATA} inpaint.* metadata entries"
            )));
        }
        st.metadata.push((key, value));
    }
    Ok(())
}

fn parse_graph<R: Read + Seek>(r: &mut PbReader<R>, st: &mut State, end: u64) -> PbResult<()> {
    while r.pos() < end {
        let (field, wire) = r.tag(end)?;
        match field {
            5 => {
                expect_wire("GraphProto", field, wire, Wire::Len)?;
                let tensor_end = r.len_end(end, "an initializer")?;
                if let Some(name) = parse_tensor_name(r, tensor_end)? {
                    st.spend(&name)?;
                    st.initializers.insert(name);
                }
            }
            11 | 12 => {
                expect_wire("GraphProto", field, wire, Wire::Len)?;
                let what = if field == 11 {
                    "a graph input"
                } else {
                    "a graph output"
                };
                let info_end = r.len_end(end, what)?;
                let port = parse_value_info(r, info_end)?;
                st.spend(&port.name)?;
                if field == 11 {
                    st.inputs.push(port);
                } else {
                    st.outputs.push(port);
                }
            }
            _ => r.skip(wire, end)?,
        }
    }
    Ok(())
}

/// A `TensorProto`'s name (field 8); its data is skipped.
fn parse_tensor_name<R: Read + Seek>(r: &mut PbReader<R>, end: u64) -> PbResult<Option<String>> {
    let mut name = None;
    while r.pos() < end {
        let (field, wire) = r.tag(end)?;
        match (field, wire) {
            (8, Wire::Len) => name = Some(r.string(end, MAX_NAME, "an initializer name")?),
            _ => r.skip(wire, end)?,
        }
    }
    Ok(name)
}

fn parse_value_info<R: Read + Seek>(r: &mut PbReader<R>, end: u64) -> PbResult<Port> {
    let mut name = String::new();
    let mut kind = ValueKind::Other("no type");
    while r.pos() < end {
        let (field, wire) = r.tag(end)?;
        match (field, wire) {
            (1, Wire::Len) => name = r.string(end, MAX_NAME, "a value name")?,
            (2, Wire::Len) => {
                let type_end = r.len_end(end, "a type")?;
                kind = parse_type(r, type_end)?;
            }
            _ => r.skip(wire, end)?,
        }
    }
    Ok(Port { name, kind })
}

fn parse_type<R: Read + Seek>(r: &mut PbReader<R>, end: u64) -> PbResult<ValueKind> {
    let mut kind = ValueKind::Other("no type");
    while r.pos() < end {
        let (field, wire) = r.tag(end)?;
        match (field, wire) {
            (1, Wire::Len) => {
                let tensor_end = r.len_end(end, "a tensor type")?;
                kind = parse_tensor_type(r, tensor_end)?;
            }
            (4, _) => {
                kind = ValueKind::Other("a sequence");
                r.skip(wire, end)?;
            }
            (5, _) => {
                kind = ValueKind::Other("a map");
                r.skip(wire, end)?;
            }
            (8, _) => {
                kind = ValueKind::Other("a sparse tensor");
                r.skip(wire, end)?;
            }
            (9, _) => {
                kind = ValueKind::Other("an optional");
                r.skip(wire, end)?;
            }
            _ => r.skip(wire, end)?,
        }
    }
    Ok(kind)
}

fn parse_tensor_type<R: Read + Seek>(r: &mut PbReader<R>, end: u64) -> PbResult<ValueKind> {
    let mut elem_type = 0;
    let mut shape = None;
    while r.pos() < end {
        let (field, wire) = r.tag(end)?;
        match (field, wire) {
            // int32 on the wire as a varint; negative values are sign-extended to 64 bits.
            (1, Wire::Varint) => elem_type = r.varint(end)? as i64 as i32,
            (2, Wire::Len) => {
                let shape_end = r.len_end(end, "a shape")?;
                shape = Some(parse_shape(r, shape_end)?);
            }
            _ => r.skip(wire, end)?,
        }
    }
    Ok(ValueKind::Tensor { elem_type, shape })
}

fn parse_shape<R: Read + Seek>(r: &mut PbReader<R>, end: u64) -> PbResult<Vec<Dim>> {
    let mut dims = Vec::new();
    while r.pos() < end {
        let (field, wire) = r.tag(end)?;
        match (field, wire) {
            (1, Wire::Len) => {
                if dims.len() >= MAX_DIMS {
                    return Err(PbError::Limit(format!("a shape with over {MAX_DIMS} dims")));
                }
                let dim_end = r.len_end(end, "a dimension")?;
                let mut dim = Dim::Symbolic(None);
                while r.pos() < dim_end {
                    let (f, w) = r.tag(dim_end)?;
                    match (f, w) {
                        (1, Wire::Varint) => dim = Dim::Fixed(r.varint(dim_end)? as i64),
                        (2, Wire::Len) => {
                            dim = Dim::Symbolic(Some(r.string(
                                dim_end,
                                MAX_NAME,
                                "a dim parameter",
                            )?));
                        }
                        _ => r.skip(w, dim_end)?,
                    }
                }
                dims.push(dim);
            }
            _ => r.skip(wire, end)?,
        }
    }
    Ok(dims)
}

// ---------------------------------------------------------------------------------------------
// Contracts: judged by `inpaint-models` itself (`Architecture::accepts`), the same check
// `OnnxModel::load` makes on a loaded session, so the probe and the loader cannot disagree.

/// The ports as `inpaint-models` describes them (symbolic dims as -1, as ONNX Runtime does).
fn graph_ports(ports: &[Port]) -> Vec<GraphPort> {
    ports
        .iter()
        .map(|port| match &port.kind {
            ValueKind::Tensor { elem_type, shape } => GraphPort::tensor(
                port.name.clone(),
                Element::from_onnx_code(i64::from(*elem_type)),
                shape
                    .iter()
                    .flatten()
                    .map(|d| match d {
                        Dim::Fixed(n) if *n >= 0 => *n,
                        _ => -1,
                    })
                    .collect::<Vec<i64>>(),
            ),
            ValueKind::Other(_) => GraphPort {
                name: port.name.clone(),
                element: None,
                dims: Vec::new(),
            },
        })
        .collect()
}

/// The side of a graph whose 4-D inputs have fixed, equal height and width.
fn fixed_side(graph: &OnnxGraph) -> Option<u32> {
    graph.inputs.iter().find_map(|port| match &port.kind {
        ValueKind::Tensor {
            shape: Some(dims), ..
        } if dims.len() == 4 => match (&dims[2], &dims[3]) {
            (Dim::Fixed(h), Dim::Fixed(w)) if h == w && *h > 0 => u32::try_from(*h).ok(),
            _ => None,
        },
        _ => None,
    })
}

/// Whether the graph's float ports are float16.
fn is_float16(graph: &OnnxGraph) -> bool {
    graph.inputs.iter().chain(&graph.outputs).any(|port| {
        matches!(
            port.kind,
            ValueKind::Tensor {
                elem_type: FLOAT16,
                ..
            }
        )
    })
}

/// The order in which a graph that fits several contracts is attributed: the architecture
/// with a public ONNX export of that contract first (Carve's fixed LaMa before MAT, whose
/// contract without the noise input is the same; MI-GAN before FcF, which share theirs).
const PREFERENCE: [Architecture; 6] = [
    Architecture::Lama,
    Architecture::LamaDynamic,
    Architecture::Migan,
    Architecture::Fcf,
    Architecture::Mat,
    Architecture::MiganPipeline,
];

/// An ONNX file identified by its interface.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OnnxIdentity {
    /// The architecture it is attributed to.
    pub architecture: Architecture,
    /// Other architectures whose contract the graph also fits (the interface cannot tell
    /// them apart; set `architecture` in the models config, or the file's
    /// [`ARCHITECTURE_METADATA_KEY`], to choose).
    pub alternatives: Vec<Architecture>,
    /// Whether the file declared the architecture in its metadata.
    pub declared: bool,
    /// The output range the file declares (`inpaint.output_range`), when it does.
    pub output_range: Option<OutputRange>,
    /// Whether the float ports are float16.
    pub float16: bool,
    /// `Some(n)` when height and width are fixed at `n`.
    pub fixed_side: Option<u32>,
    /// ONNX IR version and default opset, as read.
    pub ir_version: Option<u64>,
    /// The default-domain opset.
    pub opset: Option<u64>,
}

/// Attributes `graph` to an architecture, or says why none fits.
pub(crate) fn identify(graph: &OnnxGraph) -> Result<OnnxIdentity, String> {
    let output_range = match graph.metadata(OutputRange::METADATA_KEY) {
        None => None,
        Some(text) => Some(text.parse::<OutputRange>().map_err(|err| {
            format!(
                "metadata {}: {err} (the loader refuses it too)",
                OutputRange::METADATA_KEY
            )
        })?),
    };
    let declared = match graph.metadata(ARCHITECTURE_METADATA_KEY) {
        None => None,
        Some(text) => Some(
            text.parse::<Architecture>()
                .map_err(|err| format!("metadata {ARCHITECTURE_METADATA_KEY}: {err}"))?,
        ),
    };

    let inputs = graph_ports(&graph.inputs);
    let outputs = graph_ports(&graph.outputs);
    // The preferred order, then any architecture `inpaint-models` adds later.
    let order = PREFERENCE
        .iter()
        .chain(Architecture::ALL.iter().filter(|a| !PREFERENCE.contains(a)));
    let mut fits = Vec::new();
    let mut refusals = Vec::new();
    for &arch in order {
        match arch.accepts(&inputs, &outputs) {
            Ok(()) => fits.push(arch),
            Err(why) => refusals.push(format!("not {arch}: {why}")),
        }
    }
    if let Some(declared) = declared.filter(|d| !fits.contains(d)) {
        let why = refusals
            .iter()
            .find(|r| r.starts_with(&format!("not {declared}:")))
            .cloned()
            .unwrap_or_default();
        return Err(format!(
            "the file declares {ARCHITECTURE_METADATA_KEY} = {declared}, but its interface does \
             not fit: {why}"
        ));
    }
    if fits.is_empty() {
        return Err(format!(
            "its interface (inputs {}; outputs {}) fits no known architecture: {}",
            list_ports(&graph.inputs),
            list_ports(&graph.outputs),
            refusals.join(". ")
        ));
    }
    // Carve's fixed LaMa always outputs 0–255; a fixed graph declaring 0–1 is read as
    // `lama-dynamic`, which honours the declaration.
    let dynamic_at = fits.iter().position(|a| *a == Architecture::LamaDynamic);
    if let (Some(OutputRange::Unit), Some(i)) = (output_range, dynamic_at) {
        let dynamic = fits.remove(i);
        fits.insert(0, dynamic);
    }
    let primary = match declared {
        Some(d) => fits.iter().position(|a| *a == d).unwrap_or(0),
        None => 0,
    };
    let architecture = fits.remove(primary);
    Ok(OnnxIdentity {
        architecture,
        alternatives: fits,
        declared: declared.is_some(),
        output_range,
        float16: is_float16(graph),
        fixed_side: fixed_side(graph),
        ir_version: graph.ir_version,
        opset: graph.opset,
    })
}

fn list_ports(ports: &[Port]) -> String {
    if ports.is_empty() {
        return "none".into();
    }
    ports
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}
