// The Landau distribution as ROOT evaluates it (RooLandau: TMath::Landau, ROOT::Math::landau_pdf
// and landau_cdf): the rational approximations of CERNLIB G110 DENLAN (density) and DISLAN
// (distribution function) by Kölbig and Schorr, Comput. Phys. Commun. 31 (1984) 97. The
// standard density is φ(λ) = (1/π) ∫_0^∞ exp(−t ln t − λ t) sin(π t) dt; its mode is at
// λ ≈ −0.2228 (ROOT's `mean` is the location of λ = 0, not the most probable value).
// Derivatives are those of the approximations themselves (so a fit's gradient is exactly the
// derivative of the −ln L it minimizes), computed by forward-mode dual numbers.
#pragma once

namespace hs3fit::hs3 {

// φ(λ) and dφ/dλ.
double landau_pdf(double lambda, double* derivative = nullptr);
// Φ(λ) = ∫_{−∞}^λ φ and dΦ/dλ (of the DISLAN approximation, ≈ φ(λ)).
double landau_cdf(double lambda, double* derivative = nullptr);

}  // namespace hs3fit::hs3
