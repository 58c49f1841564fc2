//! TEMPORARY copy of `inpaint_core::Sampler` until the lead's request API lands on main.

/// IOPaint's `SDSampler`: the 19 names, exactly as IOPaint spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[expect(
    missing_docs,
    reason = "temporary copy; the real enum lives in inpaint-core"
)]
pub enum Sampler {
    DpmPp2m,
    DpmPp2mKarras,
    DpmPp2mSde,
    DpmPp2mSdeKarras,
    DpmPpSde,
    DpmPpSdeKarras,
    Dpm2,
    Dpm2Karras,
    Dpm2A,
    Dpm2AKarras,
    Euler,
    EulerA,
    Heun,
    Lms,
    LmsKarras,
    Ddim,
    Pndm,
    #[default]
    UniPc,
    Lcm,
}

impl Sampler {
    /// Every sampler, in IOPaint's order.
    pub const ALL: [Sampler; 19] = [
        Self::DpmPp2m,
        Self::DpmPp2mKarras,
        Self::DpmPp2mSde,
        Self::DpmPp2mSdeKarras,
        Self::DpmPpSde,
        Self::DpmPpSdeKarras,
        Self::Dpm2,
        Self::Dpm2Karras,
        Self::Dpm2A,
        Self::Dpm2AKarras,
        Self::Euler,
        Self::EulerA,
        Self::Heun,
        Self::Lms,
        Self::LmsKarras,
        Self::Ddim,
        Self::Pndm,
        Self::UniPc,
        Self::Lcm,
    ];
    /// IOPaint's names, in the order of [`ALL`](Self::ALL).
    pub const NAMES: [&'static str; 19] = [
        "DPM++ 2M",
        "DPM++ 2M Karras",
        "DPM++ 2M SDE",
        "DPM++ 2M SDE Karras",
        "DPM++ SDE",
        "DPM++ SDE Karras",
        "DPM2",
        "DPM2 Karras",
        "DPM2 a",
        "DPM2 a Karras",
        "Euler",
        "Euler a",
        "Heun",
        "LMS",
        "LMS Karras",
        "DDIM",
        "PNDM",
        "UniPC",
        "LCM",
    ];

    /// IOPaint's name.
    pub fn name(self) -> &'static str {
        let index = Self::ALL.iter().position(|&s| s == self).unwrap_or(0);
        Self::NAMES[index]
    }
}
