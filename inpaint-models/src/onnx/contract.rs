//! Checking a loaded graph's inputs and outputs against an architecture's contract, so that a
//! file of the wrong kind fails at load with a message naming each mismatch.

use std::fmt;

use ort::session::Session;
use ort::value::{Outlet, TensorElementType};

/// The element types a port accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Elements {
    /// float32 or float16, the same for every float port of the graph.
    Float,
    /// uint8.
    Byte,
}

impl Elements {
    fn accepts(self, ty: TensorElementType) -> bool {
        match self {
            Elements::Float => {
                matches!(ty, TensorElementType::Float32 | TensorElementType::Float16)
            }
            Elements::Byte => ty == TensorElementType::Uint8,
        }
    }
}

impl fmt::Display for Elements {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Elements::Float => "float32 or float16",
            Elements::Byte => "uint8",
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checked {
    /// The element type of the float ports (float32 when there are none).
    pub(crate) float: TensorElementType,
    /// `Some(n)` when the spatial size is fixed at `n×n`.
    pub(crate) fixed_side: Option<u32>,
    /// Whether the graph has the optional input.
    pub(crate) has_optional: bool,
}

/// Checks `session` has exactly `inputs` (plus `optional` if given), `outputs` by name, with
/// rank, element type and the fixed sizes; returns every mismatch at once.
pub(crate) fn check(
    session: &Session,
    inputs: &[Port],
    optional: Option<&Port>,
    outputs: &[Port],
    spatial: Spatial,
) -> Result<Checked, String> {
    let mut problems = Vec::new();
    let mut float = None;
    let mut spatial_sizes = Vec::new();

    let mut check_side =
        |kind: &str, expected: &[Port], found: &[Outlet], problems: &mut Vec<String>| {
            for port in expected {
                let Some(outlet) = found.iter().find(|o| o.name() == port.name) else {
                    problems.push(format!("no {kind} named `{}`", port.name));
                    continue;
                };
                let (Some(ty), Some(shape)) =
                    (outlet.dtype().tensor_type(), outlet.dtype().tensor_shape())
                else {
                    problems.push(format!("{kind} `{}` is not a tensor", port.name));
                    continue;
                };
                let described = format!("{ty} {shape}");
                let mut ok = port.elements.accepts(ty) && shape.len() == port.dims.len();
                if port.elements == Elements::Float && ok {
                    match float {
                        None => float = Some(ty),
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
        optional.is_some_and(|port| session.inputs().iter().any(|o| o.name() == port.name));
    if let (true, Some(port)) = (has_optional, optional) {
        expected_inputs.push(*port);
    }
    check_side("input", &expected_inputs, session.inputs(), &mut problems);
    check_side("output", outputs, session.outputs(), &mut problems);
    for outlet in session.inputs() {
        if !expected_inputs.iter().any(|p| p.name == outlet.name()) {
            problems.push(format!("unexpected input `{}`", outlet.name()));
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
            float: float.unwrap_or(TensorElementType::Float32),
            fixed_side,
            has_optional,
        })
    } else {
        Err(problems.join("; "))
    }
}
