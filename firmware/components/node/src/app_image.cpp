#include "node/app_image.h"

#include <cstring>

#include "node/checksum.h"
#include "node/flash_io.h"

namespace node {

namespace {
void CopyField(char* dst, const uint8_t* src, size_t n) {
  std::memcpy(dst, src, n);
  dst[n] = '\0';
}
}  // namespace

Status CheckAppImage(FlashPort& flash, const Partition& app, AppImageInfo* info) {
  std::memset(info, 0, sizeof(*info));
  uint8_t hdr[24];
  Status s = flash.Read(app.offset, hdr, sizeof(hdr));
  if (s != Status::kOk) return s;
  if (hdr[0] != kImageMagic || hdr[1] == 0 || hdr[1] > kMaxSegments) return Status::kVerifyFailed;
  info->segment_count = hdr[1];
  info->chip_id = LoadLe16(hdr + 12);
  const bool hash_appended = hdr[23] == 1;

  Sha256 sha;
  sha.Update(hdr, sizeof(hdr));
  uint8_t checksum = kImageChecksumSeed;
  uint32_t pos = sizeof(hdr);
  uint8_t buf[256];
  for (uint32_t seg = 0; seg < info->segment_count; ++seg) {
    uint8_t sh[8];
    if (pos + 8 > app.size) return Status::kVerifyFailed;
    s = flash.Read(app.offset + pos, sh, 8);
    if (s != Status::kOk) return s;
    sha.Update(sh, 8);
    pos += 8;
    const uint32_t len = LoadLe32(sh + 4);
    if (len > app.size - pos) return Status::kVerifyFailed;
    if (seg == 0 && len >= 256) {
      uint8_t desc[256];
      s = flash.Read(app.offset + pos, desc, sizeof(desc));
      if (s != Status::kOk) return s;
      if (LoadLe32(desc) == kAppDescMagic) {
        info->has_app_desc = true;
        info->secure_version = LoadLe32(desc + 4);
        CopyField(info->version, desc + 16, 32);
        CopyField(info->project_name, desc + 48, 32);
      }
    }
    for (uint32_t done = 0; done < len;) {
      const uint32_t n = (len - done) < sizeof(buf) ? (len - done) : uint32_t{sizeof(buf)};
      s = flash.Read(app.offset + pos + done, buf, n);
      if (s != Status::kOk) return s;
      sha.Update(buf, n);
      for (uint32_t i = 0; i < n; ++i) checksum ^= buf[i];
      done += n;
    }
    pos += len;
  }
  // Zero padding up to 15 mod 16, then the checksum byte.
  const uint32_t pad = 15 - pos % 16;
  if (pos + pad + 1 > app.size) return Status::kVerifyFailed;
  s = flash.Read(app.offset + pos, buf, pad + 1);
  if (s != Status::kOk) return s;
  sha.Update(buf, pad + 1);
  if (buf[pad] != checksum) return Status::kVerifyFailed;
  pos += pad + 1;
  if (hash_appended) {
    if (pos + 32 > app.size) return Status::kVerifyFailed;
    s = flash.Read(app.offset + pos, info->sha256, 32);
    if (s != Status::kOk) return s;
    uint8_t digest[32];
    sha.Final(digest);
    if (!DigestEqual(digest, info->sha256, 32)) return Status::kVerifyFailed;
    pos += 32;
  }
  info->length = pos;
  return Status::kOk;
}

bool AppImageBootable(FlashPort& flash, const Partition& app, void* /*ctx*/) {
  AppImageInfo info;
  return CheckAppImage(flash, app, &info) == Status::kOk && info.chip_id == kChipIdEsp32s3;
}

}  // namespace node
