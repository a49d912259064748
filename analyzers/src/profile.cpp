// SPDX-License-Identifier: Apache-2.0
#include <cstdio>

#include "moetune/analyzers/profile.h"
#include "json_io.h"

#include <algorithm>
#include <cctype>
#include <fstream>

namespace moetune::analyzers {
namespace {

bool valid_env_name(const std::string& s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; });
}

// Applies one fix (from a finding or a profile's "fixes") to p; error text on bad input.
std::string add_fix(Profile& p, const std::string& type, const nlohmann::json& body, const std::string& finding) {
  if (type == "env") {
    if (!body.contains("name") || !body["name"].is_string()) return "env fix without a string \"name\"";
    if (!body.contains("value") || !(body["value"].is_string() || body["value"].is_number()))
      return "env fix without a \"value\"";
    std::string name = body["name"], value = body["value"].is_string() ? body["value"].get<std::string>()
                                                                       : body["value"].dump();
    if (!valid_env_name(name)) return "env fix: \"" + name + "\" is not a valid variable name";
    auto it = p.env.find(name);
    if (it == p.env.end()) p.env[name] = value;
    else if (it->second != value) p.skipped.push_back(name + "=" + value + " (from " + finding + "): kept " + it->second);
    return {};
  }
  if (type == "flag") {
    if (!body.contains("name") || !body["name"].is_string()) return "flag fix without a string \"name\"";
    std::string name = body["name"];
    if (name.rfind("-", 0) != 0) return "flag fix: \"" + name + "\" does not start with '-'";
    auto it = std::find(p.flags.begin(), p.flags.end(), name);
    std::optional<std::string> value;
    if (body.contains("value")) {
      if (!body["value"].is_string()) return "flag fix \"" + name + "\": \"value\" must be a string";
      value = body["value"].get<std::string>();
    }
    if (it != p.flags.end()) {
      if (value && (it + 1 == p.flags.end() || *(it + 1) != *value))
        p.skipped.push_back(name + " " + *value + " (from " + finding + "): flag already set");
      return {};
    }
    p.flags.push_back(name);
    if (value) p.flags.push_back(*value);
    return {};
  }
  if (type == "placement") {
    if (p.placement || !p.placement_file.empty()) {
      p.skipped.push_back("placement (from " + finding + "): a plan is already set");
      return {};
    }
    if (body.contains("plan")) {
      auto plan = placement_from_json(body["plan"], "placement plan");
      if (!plan) return plan.error().message;
      p.placement = std::move(*plan);
    } else if (body.contains("file") && body["file"].is_string()) {
      p.placement_file = body["file"];
    } else {
      return "placement fix without \"plan\" or \"file\"";
    }
    return {};
  }
  if (type == "code") {
    nlohmann::json m = body;
    m["type"] = "code";
    if (!finding.empty()) m["finding"] = finding;
    p.manual.push_back(m);
    return {};
  }
  return "unknown fix type \"" + type + "\" (expected env, flag, placement or code)";
}

}  // namespace

Profile build_profile(const AnalysisResult& r, const std::string& source_run) {
  Profile p;
  p.source_run = source_run;
  // A finding whose estimated gain is positive but under this is within run-to-run noise
  // (the samples' step times vary by several % between runs): its fixes are listed under
  // "skipped", not applied. A gain of 0 means "not estimated" (traffic-only findings).
  constexpr double kMinGainPct = 2.0;
  for (const auto& f : r.findings) {
    if (f.recommendation.fixes.empty()) continue;
    if (f.estimated_gain_pct > 0 && f.estimated_gain_pct < kMinGainPct) {
      char buf[96];
      std::snprintf(buf, sizeof buf, "estimated gain %.1f %% is below %.0f %%: not applied", f.estimated_gain_pct,
                    kMinGainPct);
      p.skipped.push_back(f.id + ": " + buf);
      continue;
    }
    p.findings.push_back(f.id);
    for (const auto& fx : f.recommendation.fixes) {
      if (fx.body.value("optional", false)) continue;  // options are shown, not applied
      auto err = add_fix(p, fx.type, fx.body, f.id);
      if (!err.empty()) p.skipped.push_back(f.id + ": " + err);
    }
  }
  return p;
}

nlohmann::json to_json(const Profile& p) {
  nlohmann::json j{{"format", "moetune-profile"}, {"version", 1}, {"source_run", p.source_run},
                   {"env", p.env}, {"flags", p.flags}, {"findings", p.findings}};
  if (p.placement) j["placement"] = to_json(*p.placement);
  else if (!p.placement_file.empty()) j["placement"] = p.placement_file;
  else j["placement"] = nullptr;
  j["manual"] = p.manual;
  if (!p.skipped.empty()) j["skipped"] = p.skipped;
  j["targets"] = targets_json(p);  // informative: read back by nobody, rendered again by apply
  return j;
}

Expected<Profile> profile_from_json(const nlohmann::json& j, const std::string& where) {
  auto bad = [&](const std::string& what) { return Error{where + ": " + what}; };
  if (!j.is_object()) return bad("profile is not a JSON object");
  if (!j.contains("format") || j["format"] != "moetune-profile") return bad("\"format\" is not \"moetune-profile\"");
  if (!j.contains("version") || !j["version"].is_number_integer() || j["version"].get<int>() != 1)
    return bad("unsupported profile \"version\" (this moetune reads version 1)");
  Profile p;
  if (j.contains("source_run")) {
    if (!j["source_run"].is_string() && !j["source_run"].is_null()) return bad("\"source_run\" must be a string");
    if (j["source_run"].is_string()) p.source_run = j["source_run"];
  }
  if (j.contains("env")) {
    if (!j["env"].is_object()) return bad("\"env\" must be an object of NAME: VALUE strings");
    for (const auto& [k, v] : j["env"].items()) {
      if (!valid_env_name(k)) return bad("env: \"" + k + "\" is not a valid variable name");
      if (!v.is_string()) return bad("env " + k + ": value must be a string");
      p.env[k] = v.get<std::string>();
    }
  }
  if (j.contains("flags")) {
    if (!j["flags"].is_array()) return bad("\"flags\" must be an array of strings");
    for (const auto& v : j["flags"]) {
      if (!v.is_string()) return bad("\"flags\" must be an array of strings");
      p.flags.push_back(v.get<std::string>());
    }
  }
  if (j.contains("placement") && !j["placement"].is_null()) {
    if (j["placement"].is_string()) {
      p.placement_file = j["placement"];
    } else {
      auto plan = placement_from_json(j["placement"], where + ": placement");
      if (!plan) return plan.error();
      p.placement = std::move(*plan);
    }
  }
  if (j.contains("findings")) {
    if (!j["findings"].is_array()) return bad("\"findings\" must be an array of finding ids");
    for (const auto& v : j["findings"]) {
      if (!v.is_string()) return bad("\"findings\" must be an array of finding ids");
      p.findings.push_back(v.get<std::string>());
    }
  }
  if (j.contains("manual")) {
    if (!j["manual"].is_array()) return bad("\"manual\" must be an array");
    for (const auto& m : j["manual"]) {
      if (!m.is_object() || m.value("type", "") != "code")
        return bad("\"manual\" entries must be objects of type \"code\"");
      p.manual.push_back(m);
    }
  }
  if (j.contains("fixes")) {
    if (!j["fixes"].is_array()) return bad("\"fixes\" must be an array");
    for (const auto& fx : j["fixes"]) {
      if (!fx.is_object() || !fx.contains("type") || !fx["type"].is_string()) return bad("a fix without a \"type\"");
      auto err = add_fix(p, fx["type"].get<std::string>(), fx, "profile");
      if (!err.empty()) return bad(err);
    }
  }
  return p;
}

Expected<Profile> read_profile(const std::filesystem::path& file) {
  return detail::read_json_file(file, profile_from_json);
}

Expected<void> write_profile(const std::filesystem::path& file, const Profile& p) {
  std::ofstream out(file);
  if (!out) return Error{file.string() + ": cannot write"};
  out << to_json(p).dump(2) << "\n";
  if (!out) return Error{file.string() + ": write failed"};
  return {};
}

}  // namespace moetune::analyzers
