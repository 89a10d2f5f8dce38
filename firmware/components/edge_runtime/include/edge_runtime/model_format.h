/* Fieldbench INT8 model blob, format version 1: THE source of truth (docs/model-format.md).
 *
 * Written by core/model/blob.py (Python `struct`, mirrored field by field from this file),
 * parsed and validated by the C++ runtime (inference_runtime.h). A blob is UNTRUSTED input: the
 * parser checks every field, offset and bound listed below and returns one FB_MODEL_ERR_* code.
 *
 * Encoding: little-endian, IEEE-754 binary32 for every float (stored as its exact bit pattern),
 * two's-complement integers, no padding inside records (all records are multiples of 4 bytes
 * and every field is naturally aligned inside its record).
 *
 * Canonical layout (the parser REQUIRES exactly this order and these offsets, no gaps):
 *
 *   offset 0                               fb_model_header          64 bytes
 *   offset 64 = tensor_table_offset        fb_model_tensor[n_tensors]   32 bytes each
 *   layer_table_offset = 64 + 32*n_tensors fb_model_layer[n_layers]     48 bytes each
 *   params_offset = layer_table_offset + 48*n_layers
 *                                          params: params_bytes bytes (multiple of 4)
 *   total_bytes = params_offset + params_bytes  (the blob length must equal total_bytes)
 *
 * CRC: crc32 = CRC-32/ISO-HDLC (zlib.crc32, poly 0xEDB88320 reflected, init/xorout 0xFFFFFFFF)
 * of bytes [12, total_bytes), i.e. everything after the crc32 field, header fields included.
 *
 * Python struct formats (little-endian, no padding):
 *   header  "<IHHIIHHIIIIIIHHfBBHfI"   (64 bytes)
 *   tensor  "<BBH4HfiIII"              (32 bytes)
 *   layer   "<BBbb2HHHII12HI"          (48 bytes)
 */
#ifndef EDGE_RUNTIME_MODEL_FORMAT_H_
#define EDGE_RUNTIME_MODEL_FORMAT_H_

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- identification ------------------------------------------------------------------------- */
#define FB_MODEL_MAGIC 0x4D494246u /* bytes "FBIM" (Fieldbench Int8 Model) at offset 0 */
#define FB_MODEL_FORMAT_VERSION 1u
#define FB_MODEL_HEADER_BYTES 64u
#define FB_MODEL_TENSOR_BYTES 32u
#define FB_MODEL_LAYER_BYTES 48u
#define FB_MODEL_CRC_START 12u /* the CRC covers [FB_MODEL_CRC_START, total_bytes) */

/* ---- limits (the runtime uses fixed-size loops/arrays bounded by these) ---------------------- */
#define FB_MODEL_MAX_TENSORS 64u
#define FB_MODEL_MAX_LAYERS 64u
#define FB_MODEL_MAX_RANK 4u
#define FB_MODEL_MAX_BLOB_BYTES (16u * 1024u * 1024u)
#define FB_MODEL_MAX_ARENA_BYTES (4u * 1024u * 1024u)
#define FB_MODEL_MAX_SCRATCH_BYTES (1u * 1024u * 1024u)
/* Terms in one accumulation (Conv: C_in/group*kh*kw; Gemm: K; GAP: H*W). With |x - zp| <= 255,
 * |w| <= 128 and |bias| <= FB_MODEL_MAX_ABS_BIAS the int32 accumulator can never overflow. */
#define FB_MODEL_MAX_REDUCTION 32768u
#define FB_MODEL_MAX_ABS_BIAS 1073741824 /* 2^30 */
#define FB_MODEL_NO_TENSOR 0xFFFFu       /* unused input slot of a layer */

/* ---- enums ---------------------------------------------------------------------------------- */
/* Tensor dtype. Version 1: every tensor in the table is int8 (activations). */
#define FB_MODEL_DTYPE_INT8 1u

/* Post-processing of the output tensor into the decision (header.postprocess). */
#define FB_MODEL_POST_ARGMAX 1u /* classifier: decision = index of the max int8 output (lowest
                                   index on ties); score = float32(q_max - zp_out) * s_out.
                                   The output must have <= 127 elements. */
#define FB_MODEL_POST_RECON_MSE 2u /* autoencoder: output and input tensors have the same element
                                   count; score = float32 mean over i of
                                   (float32(q_out[i]-zp_out)*s_out - float32(q_in[i]-zp_in)*s_in)^2
                                   summed sequentially in float32 in element order, then divided
                                   by float32(n); decision = score > threshold ? 1 : 0. */

/* Layer ops (fb_model_layer.op). Shapes are taken from the tensor table. The batch dim N is 1.
 * "Requant" below = f = float32(acc) * M; f = clamp(f, qmin - zp_y, qmax - zp_y); r = RNE(f);
 * y = r + zp_y, where [qmin, qmax] = [layer.out_qmin, layer.out_qmax] (normally [-128, 127];
 * a folded Relu/Clip shows up as zp_y == qmin or as a narrower clamp). */
#define FB_MODEL_OP_CONV 1u      /* QLinearConv, NCHW, input [1,Ci,H,W] -> output [1,Co,Ho,Wo].
                                    attr: 0 kh, 1 kw, 2 stride_h, 3 stride_w, 4 dil_h, 5 dil_w,
                                    6 pad_top, 7 pad_left, 8 pad_bottom, 9 pad_right, 10 group.
                                    Ho = (H + pt + pb - dil_h*(kh-1) - 1) / stride_h + 1 (floor),
                                    likewise Wo. Ci % group == 0, Co % group == 0.
                                    acc = bias[co] + sum (x - zp_x) * w (padding contributes 0).
                                    params: float32 M[Co]; int32 bias[Co];
                                    int8 W[Co][Ci/group][kh][kw]; zero padding to a multiple of 4.
                                    M[c] = f32(f32(s_x * s_w[c]) / s_y). */
#define FB_MODEL_OP_GEMM 2u      /* QGemm / QLinearMatMul with a constant weight: input flattened
                                    to K = numel(in), output numel N.
                                    params: float32 M[N]; int32 bias[N]; int8 W[N][K] (row n = the
                                    weights of output n, i.e. ONNX Gemm transB=1 layout);
                                    zero padding to a multiple of 4. M as for CONV. */
#define FB_MODEL_OP_ADD 3u       /* QLinearAdd of two tensors with the same element count (no
                                    broadcasting), as ORT's x86 AVX2 MLAS kernel (qladd_avx2.cpp):
                                    v = fmaf(f32(a), ratio_a, fmaf(f32(b), ratio_b, fixed))
                                    on the RAW int8 values a, b; y = sat8(RNE(v)), then clamped
                                    to [out_qmin, out_qmax].
                                    params (12 bytes): float32 ratio_a = f32(s_a / s_c),
                                    float32 ratio_b = f32(s_b / s_c),
                                    float32 fixed = f32(zp_c) - (ratio_a*f32(zp_a) + ratio_b*f32(zp_b))
                                    evaluated exactly as ORT does (its binary may contract one
                                    product into an FMA: the exporter picks the bits that match
                                    ORT). |ratio| <= 4096, |fixed| <= 2^20, all finite. */
#define FB_MODEL_OP_MAXPOOL 4u   /* MaxPool on int8 (no requant): input and output tensors must
                                    have equal scale and zero point. attr as CONV 0..9,
                                    10 unused (0), 11 ceil_mode (0/1). Padding never wins the max.
                                    params: none (params_bytes 0). */
#define FB_MODEL_OP_AVGPOOL 5u   /* QLinearAveragePool (ORT qlinear_pool.cc): attr as MAXPOOL,
                                    dil_h = dil_w = 1, 10 count_include_pad (0/1).
                                    xf = s_x * f32(x - zp_x); window rows hstart = oh*sh - pt,
                                    hend = min(hstart + kh, H), hstart = max(hstart, 0) (same
                                    for w); sum = 0.0f; sum += xf in row-major window order;
                                    n = count_include_pad ? kh*kw : (hend-hstart)*(wend-wstart);
                                    y = sum / f32(n); q = RNE(y / s_y + f32(zp_y)) clamped to
                                    [out_qmin, out_qmax]. If kernel == (H, W) and all pads are 0,
                                    ORT uses the GAP arithmetic instead (M computed by the runtime
                                    as s_x / (s_y * f32(H*W))). params: none. */
#define FB_MODEL_OP_GAP 6u       /* QLinearGlobalAveragePool [1,C,H,W] -> [1,C,1,1].
                                    acc = sum(q) - zp_x * H*W; requant with M.
                                    params: float32 M = f32(s_x / f32(s_y * f32(H*W))) (4 bytes). */
#define FB_MODEL_OP_SIGMOID 7u   /* QLinearSigmoid as a lookup: y = lut[(uint8_t)x].
                                    params: int8 lut[256] (256 bytes), exactly ORT's table. */
#define FB_MODEL_OP_RESHAPE 8u   /* Reshape/Flatten: same element count, equal scale and zp.
                                    The output may sit at the same arena offset as the input
                                    (in-place alias, no copy) or elsewhere (copy). params: none. */
#define FB_MODEL_OP_SOFTMAX 9u   /* Reserved; rejected by the v1 runtime (FB_MODEL_ERR_BAD_OP):
                                    the exporter drops a final Softmax and uses POST_ARGMAX. */

/* ---- status codes (parser + runtime; 0 = OK). Distinct from the FB_ERR_* of feature_capi.h. */
#define FB_MODEL_OK 0
#define FB_MODEL_ERR_NULL 100          /* a required pointer argument is NULL */
#define FB_MODEL_ERR_TRUNCATED 101     /* len < 64, or len < header.total_bytes */
#define FB_MODEL_ERR_BAD_MAGIC 102     /* magic != FB_MODEL_MAGIC */
#define FB_MODEL_ERR_BAD_VERSION 103   /* format_version != FB_MODEL_FORMAT_VERSION */
#define FB_MODEL_ERR_BAD_HEADER 104    /* header_bytes, total_bytes (len > total, > max blob),
                                          flags or reserved fields, input_scale not finite > 0 */
#define FB_MODEL_ERR_BAD_CRC 105       /* crc32 mismatch */
#define FB_MODEL_ERR_BAD_OFFSET 106    /* a section offset/size breaks the canonical layout, or a
                                          layer's params range is misaligned / outside params */
#define FB_MODEL_ERR_BAD_TENSOR 107    /* dtype, rank, dims, size_bytes, scale, zp or reserved */
#define FB_MODEL_ERR_BAD_SHAPE 108     /* tensor shapes inconsistent with the op and its attrs */
#define FB_MODEL_ERR_BAD_OP 109        /* unknown or unsupported op code */
#define FB_MODEL_ERR_BAD_LAYER 110     /* tensor ids, n_inputs, clamp, attrs, reserved fields, a
                                          tensor read before it is written or written twice */
#define FB_MODEL_ERR_BAD_PARAMS 111    /* params_bytes wrong for the op; M not finite or <= 0;
                                          |bias| too large; reduction too long */
#define FB_MODEL_ERR_ARENA_OVERLAP 112 /* two simultaneously live tensors share arena bytes, or a
                                          layer's output overlaps one of its inputs */
#define FB_MODEL_ERR_ARENA_BOUNDS 113  /* a tensor lies outside [0, arena_bytes) or arena/scratch
                                          exceed the limits */
#define FB_MODEL_ERR_POOL_TOO_SMALL 114 /* pool_bytes < required pool bytes */
#define FB_MODEL_ERR_BAD_POSTPROCESS 115 /* unknown kind, ARGMAX with > 127 outputs, RECON_MSE with
                                            mismatched element counts, threshold not finite */
#define FB_MODEL_ERR_LIMITS 116        /* n_tensors / n_layers out of [1, MAX] */
#define FB_MODEL_ERR_NOT_READY 120     /* runtime not initialised (or init failed) */
#define FB_MODEL_ERR_WINDOW_LEN 121    /* window_len != numel(input tensor) */
#define FB_MODEL_ERR_NOT_VERIFIED 122  /* run refused: verify_bundle_integrity() has not succeeded */
#define FB_MODEL_ERR_VERIFY_FAILED 123 /* the installed integrity verifier rejected the blob */
#define FB_MODEL_ERR_NO_VERIFIER 124   /* verify_bundle_integrity() without a verifier installed */
#define FB_MODEL_ERR_BAD_ARG 125       /* e.g. a NaN threshold, an out-of-range index */

/* ---- records -------------------------------------------------------------------------------- */
typedef struct fb_model_header {
  uint32_t magic;               /*  0 FB_MODEL_MAGIC */
  uint16_t format_version;      /*  4 FB_MODEL_FORMAT_VERSION */
  uint16_t header_bytes;        /*  6 FB_MODEL_HEADER_BYTES */
  uint32_t crc32;               /*  8 CRC-32 of bytes [12, total_bytes) */
  uint32_t total_bytes;         /* 12 whole blob length */
  uint16_t n_tensors;           /* 16 1..FB_MODEL_MAX_TENSORS */
  uint16_t n_layers;            /* 18 1..FB_MODEL_MAX_LAYERS */
  uint32_t tensor_table_offset; /* 20 == 64 */
  uint32_t layer_table_offset;  /* 24 == 64 + 32 * n_tensors */
  uint32_t params_offset;       /* 28 == layer_table_offset + 48 * n_layers */
  uint32_t params_bytes;        /* 32 multiple of 4 (may be 0) */
  uint32_t arena_bytes;         /* 36 activation arena size, <= FB_MODEL_MAX_ARENA_BYTES */
  uint32_t scratch_bytes;       /* 40 kernel scratch, <= FB_MODEL_MAX_SCRATCH_BYTES (0 for the
                                      reference kernels; an optimised build may need some) */
  uint16_t input_tensor;        /* 44 id of the int8 input tensor (filled by the quantize step) */
  uint16_t output_tensor;       /* 46 id of the int8 output tensor (!= input_tensor) */
  float input_scale;            /* 48 feature int16 -> float: x = f32(feature) * input_scale;
                                      then q = sat(RNE(x / s_in) + zp_in) (true division) */
  uint8_t postprocess;          /* 52 FB_MODEL_POST_* */
  uint8_t flags;                /* 53 must be 0 in version 1 */
  uint16_t reserved0;           /* 54 must be 0 */
  float default_threshold;      /* 56 RECON_MSE threshold (finite); ignored (any finite) for ARGMAX */
  uint32_t reserved1;           /* 60 must be 0 */
} fb_model_header;

typedef struct fb_model_tensor {
  uint8_t dtype;         /*  0 FB_MODEL_DTYPE_INT8 */
  uint8_t rank;          /*  1 1..4 */
  uint16_t flags;        /*  2 must be 0 */
  uint16_t dims[4];      /*  4 dims[i] >= 1 for i < rank, 0 for i >= rank (ONNX order) */
  float scale;           /* 12 finite, > 0 */
  int32_t zero_point;    /* 16 -128..127 */
  uint32_t arena_offset; /* 20 byte offset in the activation arena */
  uint32_t size_bytes;   /* 24 == product(dims) (int8); arena_offset + size_bytes <= arena_bytes */
  uint32_t reserved;     /* 28 must be 0 */
} fb_model_tensor;

typedef struct fb_model_layer {
  uint8_t op;             /*  0 FB_MODEL_OP_* */
  uint8_t n_inputs;       /*  1 2 for ADD, else 1 */
  int8_t out_qmin;        /*  2 output clamp, int8 domain; out_qmin <= out_qmax */
  int8_t out_qmax;        /*  3 (ignored = must be -128/127 for MAXPOOL and RESHAPE) */
  uint16_t input[2];      /*  4 tensor ids; input[1] == FB_MODEL_NO_TENSOR if n_inputs == 1 */
  uint16_t output;        /*  8 tensor id */
  uint16_t reserved0;     /* 10 must be 0 */
  uint32_t params_offset; /* 12 relative to the params section, multiple of 4; 0 if no params */
  uint32_t params_bytes;  /* 16 exact size required by the op (see FB_MODEL_OP_*) */
  uint16_t attr[12];      /* 20 op attributes (see FB_MODEL_OP_*); unused entries must be 0 */
  uint32_t reserved1;     /* 44 must be 0 */
} fb_model_layer;

/* Execution and arena rules (validated by the parser):
 *  - Layers run in table order. The input tensor is written by the quantize step before layer
 *    0; every other tensor is written by exactly one layer, before any layer reads it. The
 *    output tensor must be written by some layer.
 *  - Lifetime of a tensor: from the step that writes it to the last step that reads it; the
 *    output tensor lives to the end; for RECON_MSE the input tensor lives to the end too.
 *  - Two tensors whose lifetimes overlap must not share arena bytes. Exception: a RESHAPE whose
 *    output has exactly the input's arena offset is an alias (one storage, lifetimes merged).
 *  - A layer's output never overlaps its own inputs (no in-place kernels except that alias).
 *  - Pool bytes needed by the runtime: see fb_rt_pool_bytes() / InferenceRuntime::
 *    required_pool_bytes(): arena_bytes + scratch_bytes (+ alignment slack, + the handle for the
 *    C ABI). The blob itself is NOT copied: it must stay mapped and unchanged while in use.
 */

#ifdef __cplusplus
} /* extern "C" */
static_assert(sizeof(fb_model_header) == FB_MODEL_HEADER_BYTES, "header size");
static_assert(sizeof(fb_model_tensor) == FB_MODEL_TENSOR_BYTES, "tensor record size");
static_assert(sizeof(fb_model_layer) == FB_MODEL_LAYER_BYTES, "layer record size");
#else
_Static_assert(sizeof(fb_model_header) == FB_MODEL_HEADER_BYTES, "header size");
_Static_assert(sizeof(fb_model_tensor) == FB_MODEL_TENSOR_BYTES, "tensor record size");
_Static_assert(sizeof(fb_model_layer) == FB_MODEL_LAYER_BYTES, "layer record size");
#endif

#endif /* EDGE_RUNTIME_MODEL_FORMAT_H_ */
