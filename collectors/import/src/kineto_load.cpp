// SPDX-License-Identifier: Apache-2.0
// Loading a Kineto trace into one simdjson padded buffer: plain JSON is read as is
// (not mapped: a file truncated by another process during the import would raise
// SIGBUS in a mapping, and an import never crashes); gzip is inflated with zlib
// straight into the padded buffer (sized from the gzip trailer when that is
// plausible, grown by doubling otherwise).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <cerrno>
#include <new>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <limits>
#include <vector>

#include "kineto_internal.h"

namespace moetune::import::kineto {
namespace {

Error fail(const std::filesystem::path& file, const std::string& what) { return Error{file.string() + ": " + what}; }

Expected<std::vector<unsigned char>> read_all(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary | std::ios::ate);
  if (!in) return fail(file, "cannot open file");
  auto size = static_cast<std::streamoff>(in.tellg());
  if (size < 0) return fail(file, "cannot read file size");
  std::vector<unsigned char> buf(static_cast<std::size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(buf.data()), size)) return fail(file, "read error");
  return buf;
}

// Inflates every gzip member of `in` into one padded string.
Expected<simdjson::padded_string> inflate_gzip(const std::filesystem::path& file,
                                               const std::vector<unsigned char>& in) {
  // The trailer's ISIZE is the size mod 2^32 of the last member: a good first guess
  // when it is within deflate's maximum ratio (~1032:1) of the compressed size.
  std::size_t guess = in.size() * 4 + 4096;
  if (in.size() >= 18) {
    std::uint32_t isize = 0;
    std::memcpy(&isize, in.data() + in.size() - 4, 4);  // little-endian hosts only (x86/arm64)
    if (isize > 0 && static_cast<std::uint64_t>(isize) <= static_cast<std::uint64_t>(in.size()) * 1032 + 1024)
      guess = isize;
  }
  // Cap on the inflated size (a gzip bomb must not take the machine's memory): 1 GiB or 64x
  // the compressed size, whichever is larger; MOETUNE_MAX_INFLATE_BYTES overrides it.
  std::uint64_t cap = std::max<std::uint64_t>(1ull << 30, static_cast<std::uint64_t>(in.size()) * 64);
  if (const char* env = std::getenv("MOETUNE_MAX_INFLATE_BYTES"); env && std::strtoull(env, nullptr, 10) > 0)
    cap = std::strtoull(env, nullptr, 10);
  simdjson::padded_string out(std::min<std::uint64_t>(guess, cap));
  std::size_t used = 0;

  z_stream zs{};
  if (inflateInit2(&zs, 15 + 16) != Z_OK) return fail(file, "zlib init failed");
  zs.next_in = const_cast<Bytef*>(in.data());
  zs.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size(), std::numeric_limits<uInt>::max()));
  std::size_t fed = zs.avail_in;
  bool ended = false;
  for (;;) {
    if (used >= cap) {
      inflateEnd(&zs);
      return fail(file, "gzip expands beyond " + std::to_string(cap) +
                            " bytes (limit: 1 GiB or 64x the compressed size; set MOETUNE_MAX_INFLATE_BYTES to raise it)");
    }
    if (used == out.size()) {  // grow
      simdjson::padded_string bigger(std::min<std::uint64_t>(out.size() * 2 + 4096, cap));
      std::memcpy(bigger.data(), out.data(), used);
      out = std::move(bigger);
    }
    std::size_t room = std::min<std::size_t>({out.size() - used, std::numeric_limits<uInt>::max(), cap - used});
    zs.next_out = reinterpret_cast<Bytef*>(out.data() + used);
    zs.avail_out = static_cast<uInt>(room);
    int rc = inflate(&zs, Z_NO_FLUSH);
    used += room - zs.avail_out;
    if (zs.avail_in == 0 && fed < in.size()) {  // inputs over 4 GiB come in slices
      std::size_t off = fed;
      zs.next_in = const_cast<Bytef*>(in.data() + off);
      zs.avail_in = static_cast<uInt>(std::min<std::size_t>(in.size() - off, std::numeric_limits<uInt>::max()));
      fed += zs.avail_in;
    }
    if (rc == Z_STREAM_END) {
      ended = true;
      // Another gzip member follows (concatenated gzip)? Otherwise trailing bytes are ignored, as gzip does.
      if (zs.avail_in >= 2 && zs.next_in[0] == 0x1f && zs.next_in[1] == 0x8b) {
        if (inflateReset(&zs) != Z_OK) break;
        ended = false;
        continue;
      }
      break;
    }
    if (rc == Z_OK) continue;
    if (rc == Z_BUF_ERROR && zs.avail_out == 0) continue;  // output full: grow and go on
    std::string msg = rc == Z_BUF_ERROR ? "truncated gzip (compressed stream ends early)"
                      : rc == Z_MEM_ERROR ? "out of memory while decompressing"
                                          : std::string("corrupt gzip data (") + (zs.msg ? zs.msg : "inflate error") + ")";
    inflateEnd(&zs);
    return fail(file, msg);
  }
  inflateEnd(&zs);
  if (!ended) return fail(file, "corrupt gzip data (bad member header)");
  if (used == 0) return fail(file, "empty file (gzip holds no data)");
  if (used == out.size()) return out;
  simdjson::padded_string exact(used);
  std::memcpy(exact.data(), out.data(), used);
  return exact;
}

}  // namespace

Expected<JsonText> load_json(const std::filesystem::path& file, ParseScratch& scratch) {
  unsigned char magic[2] = {0, 0};
  std::streamsize got = 0;
  {
    std::ifstream probe(file, std::ios::binary);
    if (!probe) return fail(file, "cannot open file");
    probe.read(reinterpret_cast<char*>(magic), 2);
    got = probe.gcount();
  }
  if (got == 0) return fail(file, "empty file");
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    auto raw = read_all(file);
    if (!raw) return raw.error();
    auto text = inflate_gzip(file, *raw);
    if (!text) return text.error();
    return JsonText(std::move(*text));
  }
  // Plain file: read into the scratch buffer (grown when too small, kept otherwise).
  int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return fail(file, "cannot open file");
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size <= 0) {
    ::close(fd);
    return fail(file, "read error");
  }
  auto size = static_cast<std::size_t>(st.st_size);
  if (scratch.text_cap < size) {
    scratch.text.reset();  // the old buffer goes first: never two at once
    scratch.text.reset(new (std::nothrow) char[size + simdjson::SIMDJSON_PADDING]);
    scratch.text_cap = scratch.text ? size : 0;
    if (!scratch.text) {
      ::close(fd);
      return fail(file, "out of memory reading the file");
    }
  }
  std::size_t done = 0;
  while (done < size) {
    ssize_t n = ::read(fd, scratch.text.get() + done, size - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  if (done != size) return fail(file, "read error (file changed while reading?)");
  std::memset(scratch.text.get() + size, 0, simdjson::SIMDJSON_PADDING);
  return JsonText(scratch.text.get(), size);
}

void ParseScratch::trim() {
  if (text_cap > kKeepBytes) text.reset(), text_cap = 0;
  if (parser.capacity() > kKeepBytes) parser = simdjson::ondemand::parser();
}

}  // namespace moetune::import::kineto
