//! Checking a graph's inputs and outputs against an architecture's contract, so that a file of
//! the wrong kind fails at load with a message naming each mismatch. The check works on plain
//! [`GraphPort`] descriptions, so that a loaded session and a file read without ONNX Runtime
//! (the registry's probe) are judged by the same code.

use std::fmt;

/// The element type of a graph input or output.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Element {
    /// float32.
    Float32,
    /// float16.
    Float16,
    /// uint8.
    Uint8,
    /// int64.
    Int64,
    /// Any other type, by its name.
    Other(String),
}

impl Element {
    /// The element type of ONNX's `TensorProto.DataType` code (1 float, 2 uint8, 7 int64,
    /// 10 float16, …).
    pub fn from_onnx_code(code: i64) -> Element {
        match code {
            1 => Element::Float32,
            2 => Element::Uint8,
            7 => Element::Int64,
            10 => Element::Float16,
            other => Element::Other(format!("onnx type {other}")),
        }
    }
}

impl fmt::Display for Element {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Element::Float32 => f.write_str("f32"),
            Element::Float16 => f.write_str("f16"),
            Element::Uint8 => f.write_str("u8"),
            Element::Int64 => f.write_str("i64"),
            Element::Other(name) => f.write_str(name),
        }
    }
}

/// One input or output of a graph: name, element type and shape (`-1` = symbolic). `None` as
/// element type: not a tensor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GraphPort {
    /// The port's name.
    pub name: String,
    /// Its element type, `None` when it is not a tensor.
    pub element: Option<Element>,
    /// Its dimensions; `-1` where symbolic.
    pub dims: Vec<i64>,
}

impl GraphPort {
    /// A tensor port.
    pub fn tensor(name: impl Into<String>, element: Element, dims: impl Into<Vec<i64>>) -> Self {
        GraphPort {
            name: name.into(),
            element: Some(element),
            dims: dims.into(),
        }
    }
}

impl fmt::Display for GraphPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self
            .dims
            .iter()
            .map(|&d| {
                if d < 0 {
                    "?".to_string()
                } else {
                    d.to_string()
                }
            })
            .collect();
        match &self.element {
            Some(element) => write!(f, "{element} [{}]", dims.join(", ")),
            None => f.write_str("not a tensor"),
        }
    }
}

/// The element types a port accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elements {
    /// float32 or float16, the same for every float port of the graph.
    Float,
    /// uint8.
    Byte,
    /// int64 (token ids).
    Int64,
}

impl Elements {
    fn accepts(self, element: &Element) -> bool {
        match self {
            Elements::Float => matches!(element, Element::Float32 | Element::Float16),
            Elements::Byte => *element == Element::Uint8,
            Elements::Int64 => *element == Element::Int64,
        }
    }
}

impl fmt::Display for Elements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Elements::Float => "float32 or float16",
            Elements::Byte => "uint8",
            Elements::Int64 => "int64",
        })
    }
}

/// One dimension of a port's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dim {
    /// The batch: 1 or symbolic (we always feed 1).
    Batch,
    /// Exactly this size.
    Fixed(i64),
    /// Height or width: the graph's own rule is checked by [`Spatial`].
    Spatial,
    /// Any size, fixed or symbolic (a sequence length, a hidden size, a channel count read
    /// from the graph).
    Any,
}

/// One input or output an architecture expects.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Port {
    pub(crate) name: &'static str,
    pub(crate) elements: Elements,
    pub(crate) dims: &'static [Dim],
}

impl Port {
    pub(crate) const fn new(name: &'static str, elements: Elements, dims: &'static [Dim]) -> Self {
        Port {
            name,
            elements,
            dims,
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self
            .dims
            .iter()
            .map(|d| match d {
                Dim::Batch => "batch".to_string(),
                Dim::Fixed(n) => n.to_string(),
                Dim::Spatial => "H/W".to_string(),
                Dim::Any => "?".to_string(),
            })
            .collect();
        write!(f, "`{}` {} [{}]", self.name, self.elements, dims.join(","))
    }
}

/// What the spatial dimensions of a graph must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Spatial {
    /// Fixed at `n×n`.
    Fixed(i64),
    /// Symbolic (any size).
    Dynamic,
    /// Symbolic, or fixed and square.
    DynamicOrSquare,
}

/// What a graph that passed the check looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Checked {
    /// The element type of the float ports (float32 when there are none).
    pub(crate) float: Element,
    /// `Some(n)` when the spatial size is fixed at `n×n`.
    pub(crate) fixed_side: Option<u32>,
    /// Whether the graph has the optional input.
    pub(crate) has_optional: bool,
}

/// Checks a graph with ports `graph_inputs`/`graph_outputs` has exactly `inputs` (plus
/// `optional` if given) and `outputs` by name, with rank, element type and the fixed sizes;
/// returns every mismatch at once.
pub(crate) fn check(
    graph_inputs: &[GraphPort],
    graph_outputs: &[GraphPort],
    inputs: &[Port],
    optional: Option<&Port>,
    outputs: &[Port],
    spatial: Spatial,
) -> Result<Checked, String> {
    let mut problems = Vec::new();
    let mut float = None;
    let mut spatial_sizes = Vec::new();

    let mut check_side =
        |kind: &str, expected: &[Port], found: &[GraphPort], problems: &mut Vec<String>| {
            for port in expected {
                let Some(graph_port) = found.iter().find(|o| o.name == port.name) else {
                    problems.push(format!("no {kind} named `{}`", port.name));
                    continue;
                };
                let Some(ty) = &graph_port.element else {
                    problems.push(format!("{kind} `{}` is not a tensor", port.name));
                    continue;
                };
                let shape = &graph_port.dims;
                let described = graph_port.to_string();
                let mut ok = port.elements.accepts(ty) && shape.len() == port.dims.len();
                if port.elements == Elements::Float && ok {
                    match &float {
                        None => float = Some(ty.clone()),
                        Some(first) if first != ty => {
                            problems.push(format!(
                                "{kind} `{}` is {ty} but other ports are {first}",
                                port.name
                            ));
                        }
                        Some(_) => {}
                    }
                }
                if ok {
                    for (dim, &size) in port.dims.iter().zip(shape.iter()) {
                        match *dim {
                            Dim::Batch => ok &= size == 1 || size < 0,
                            Dim::Fixed(n) => ok &= size == n,
                            Dim::Spatial => spatial_sizes.push(size),
                            Dim::Any => {}
                        }
                    }
                }
                if !ok {
                    problems.push(format!("{kind} {port} expected, found {described}"));
                }
            }
        };

    let mut expected_inputs: Vec<Port> = inputs.to_vec();
    let has_optional =
        optional.is_some_and(|port| graph_inputs.iter().any(|o| o.name == port.name));
    if let (true, Some(port)) = (has_optional, optional) {
        expected_inputs.push(*port);
    }
    check_side("input", &expected_inputs, graph_inputs, &mut problems);
    check_side("output", outputs, graph_outputs, &mut problems);
    for graph_port in graph_inputs {
        if !expected_inputs.iter().any(|p| p.name == graph_port.name) {
            problems.push(format!("unexpected input `{}`", graph_port.name));
        }
    }

    let fixed: Vec<i64> = spatial_sizes.iter().copied().filter(|&s| s >= 0).collect();
    let fixed_side = match (spatial, fixed.first()) {
        (_, None) => None,
        (_, Some(&first)) => {
            if fixed.len() != spatial_sizes.len() || fixed.iter().any(|&s| s != first) {
                problems.push(format!(
                    "height and width must be both symbolic or the same fixed size, found {spatial_sizes:?}"
                ));
            }
            Some(first)
        }
    };
    match (spatial, fixed_side) {
        (Spatial::Fixed(n), Some(side)) if side != n => problems.push(format!(
            "expected a fixed {n}×{n} input, found {side}×{side}"
        )),
        (Spatial::Fixed(n), None) if !spatial_sizes.is_empty() => problems.push(format!(
            "expected a fixed {n}×{n} input, found symbolic height and width"
        )),
        (Spatial::Dynamic, Some(side)) => problems.push(format!(
            "expected symbolic height and width, found a fixed {side}×{side} input"
        )),
        _ => {}
    }
    let fixed_side = fixed_side
        .and_then(|s| u32::try_from(s).ok())
        .filter(|&s| s > 0);

    if problems.is_empty() {
        Ok(Checked {
            float: float.unwrap_or(Element::Float32),
            fixed_side,
            has_optional,
        })
    } else {
        Err(problems.join("; "))
    }
}
