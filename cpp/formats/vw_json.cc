// VW's JSON and decision-service JSON lines, through nlohmann/json's SAX interface: the parser
// reports values, keys and the starts and ends of objects and arrays; the handler below keeps a
// stack of what each open object or array is (a namespace, a label, _multi, a skipped value, ...)
// and writes features straight into the examples, hashed as the text parser hashes them.
#include "formats/vw_json.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

#include "core/hash.h"

namespace wabbit {
namespace {

using Json = nlohmann::json;

std::string excerpt(std::string_view s) { return printable(s, 60); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (std::tolower(x) != std::tolower(y)) return false;
  }
  return true;
}

// VW hashes keys as C strings: a key holding "\u0000" ends there.
std::string_view c_string(std::string_view s) {
  const size_t nul = s.find('\0');
  return nul == std::string_view::npos ? s : s.substr(0, nul);
}

// What the value after a key is for.
enum class Slot : uint8_t {
  kFeature,     // a namespace's key: a feature, or a nested namespace
  kLabel,       // _label
  kLabelProp,   // _label_<Name> (the name in prop_)
  kLabelIndex,  // _labelIndex
  kText,        // _text
  kTag,         // _tag
  kMulti,       // _multi
  kSkip,        // skipped, whatever it is
  kLabelField,  // a key of _label's object
  kDsActions,   // "a"
  kDsProbs,     // "p", "_p"
  kDsContext,   // "c"
  kDsEventId,
  kDsTimestamp,
  kDsSkipLearn,
  kDsPdrop,
};

enum class Kind : uint8_t { kNamespace, kArrayNs, kLabelObject, kMulti, kDsRoot, kDsArray };

struct Frame {
  explicit Frame(Kind k, Example* e = nullptr, size_t a = 0) : kind(k), ex(e), at(a) {}
  Kind kind;
  Example* ex;
  size_t at;                 // which example: 0 the top level, k action k - 1
  unsigned char slot = ' ';  // namespace frames
  uint32_t hash = 0;
  std::string name;             // the namespace's name ("" for the default one, as audit names show it)
  size_t features = 0;          // features this namespace added
  uint32_t position = 0;        // an array namespace's next anonymous index
  Slot array_of = Slot::kSkip;  // a --dsjson array: "a" or "p"
};

// A label object's (or _label_<Name>'s) fields.
struct PendingLabel {
  bool cb = false;  // Action, Cost or Probability given
  CbCost cost{0, kNoLabel, -1.f};
};

class Handler {
 public:
  Handler(JsonTarget& t, const JsonOptions& o, JsonParse& out, DsInfo* ds) : t_(t), opt_(o), out_(out), ds_(ds) {}

  // --- SAX events (nlohmann::json_sax) ---
  bool null() {
    if (skip_ > 0) return true;
    if (stack_.empty()) return fail("a line is a JSON object, not null");
    const Slot s = take();
    if (s == Slot::kDsPdrop && ds_ != nullptr) ds_->pdrop = 0.f;
    return true;  // VW ignores null values
  }
  bool boolean(bool b) {
    if (skip_ > 0) return true;
    if (stack_.empty()) return fail("a line is a JSON object, not a boolean");
    const Slot s = take();
    switch (s) {
      case Slot::kSkip:
        return true;
      case Slot::kFeature:
        if (top().kind != Kind::kNamespace) return unexpected(b ? "true" : "false");
        if (b) feature(top(), key_, 1.f);
        return true;
      case Slot::kDsSkipLearn:
        if (ds_ != nullptr) ds_->skip_learn = b;
        return true;
      default:
        return unexpected(b ? "true" : "false");
    }
  }
  bool number_integer(Json::number_integer_t v) { return number(static_cast<double>(v), false); }
  bool number_unsigned(Json::number_unsigned_t v) {
    if (skip_ > 0) return true;
    unsigned_ = v;
    return number(static_cast<double>(v), true);
  }
  bool number_float(Json::number_float_t v, const Json::string_t&) { return number(v, false); }
  bool string(Json::string_t& s) {
    if (skip_ > 0) return true;
    if (stack_.empty()) return fail("a line is a JSON object, not a string");
    const Slot slot = take();
    Frame& f = top();
    switch (slot) {
      case Slot::kSkip:
        return true;
      case Slot::kFeature:
        if (f.kind != Kind::kNamespace) return unexpected("string \"" + excerpt(s) + "\"");
        string_feature(f, s);
        return true;
      case Slot::kText:
        text(f, s);
        return true;
      case Slot::kTag:
        f.ex->tag.append(s);
        return true;
      case Slot::kLabel:
        return string_label(f, s);
      case Slot::kLabelProp:
      case Slot::kLabelField:
        return fail("label property \"" + excerpt(prop_) + "\" is a number, not the string \"" + excerpt(s) + "\"");
      case Slot::kDsEventId:
        if (ds_ != nullptr) ds_->event_id = s;
        return true;
      case Slot::kDsTimestamp:
        if (ds_ != nullptr) ds_->timestamp = s;
        return true;
      default:
        return unexpected("string \"" + excerpt(s) + "\"");
    }
  }
  bool binary(Json::binary_t&) { return fail("binary values are not JSON text"); }

  bool start_object(std::size_t) {
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    if (stack_.empty()) {
      if (opt_.dsjson) {
        stack_.push_back(Frame(Kind::kDsRoot));
        stack_.back().ex = top_ex_;
        return true;
      }
      push_namespace(*top_ex_, 0, " ");
      return true;
    }
    const Slot s = take();
    Frame& f = top();
    switch (s) {
      case Slot::kSkip:
        skip_ = 1;
        return true;
      case Slot::kFeature:
        if (f.kind == Kind::kNamespace) {
          push_namespace(*f.ex, f.at, key_);
          return true;
        }
        if (f.kind == Kind::kArrayNs) {  // an object in an array: features of the array's namespace
          push_namespace(*f.ex, f.at, f.name.empty() ? std::string_view(" ") : std::string_view(f.name));
          return true;
        }
        if (f.kind == Kind::kMulti) {
          Example* a = t_.action();
          if (a == nullptr) return fail("_multi: this model takes no actions");
          ++out_.actions;
          a->clear();
          a->has_names = opt_.names;
          push_namespace(*a, out_.actions, " ");
          return true;
        }
        return unexpected("{");
      case Slot::kLabel:
      case Slot::kLabelProp:
        stack_.push_back(Frame(Kind::kLabelObject, f.ex, f.at));
        label_ = PendingLabel{};
        return true;
      case Slot::kDsContext:
        push_namespace(*f.ex, 0, " ");
        in_context_ = true;
        return true;
      default:
        return unexpected("{");
    }
  }
  bool key(Json::string_t& k) {
    if (skip_ > 0) return true;
    Frame& f = top();
    if (f.kind == Kind::kLabelObject) {
      prop_ = k;
      next_ = Slot::kLabelField;
      return true;
    }
    if (f.kind == Kind::kDsRoot) return ds_key(k);
    key_ = std::move(k);
    next_ = Slot::kFeature;
    if (!key_.empty() && key_[0] == '_') return special_key(f);
    return true;
  }
  bool end_object() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    Frame f = std::move(top());
    stack_.pop_back();
    next_ = Slot::kFeature;
    if (f.kind == Kind::kLabelObject) return end_label_object(f);
    if (f.kind == Kind::kNamespace) {
      close_namespace(f);
      // the end of the example's object (--dsjson: of "c"): its label index and pending cost apply
      if (stack_.empty() || (in_context_ && top().kind == Kind::kDsRoot)) {
        in_context_ = false;
        return end_example();
      }
    }
    return true;
  }
  bool start_array(std::size_t) {
    if (skip_ > 0) {
      ++skip_;
      return true;
    }
    if (stack_.empty()) return fail("a line is a JSON object, not an array");
    const Slot s = take();
    Frame& f = top();
    switch (s) {
      case Slot::kSkip:
        skip_ = 1;
        return true;
      case Slot::kFeature:
        if (f.kind != Kind::kNamespace) return fail("nested arrays are not supported");
        {
          Frame a(Kind::kArrayNs, f.ex, f.at);
          a.slot = key_.empty() ? 0 : static_cast<unsigned char>(key_[0]);
          a.hash = hash_namespace(c_string(key_));
          a.name = key_ == " " ? std::string() : key_;
          stack_.push_back(std::move(a));
        }
        return true;
      case Slot::kMulti:
        if (f.at != 0 || f.ex != top_ex_) return fail("nested _multi is not supported");
        if (!t_.takes_actions()) return fail("_multi (a bandit event's actions) needs --cb_adf or --cb_explore_adf");
        if (out_.multi) return fail("two _multi in one line");
        out_.multi = true;
        stack_.push_back(Frame(Kind::kMulti, f.ex, 0));
        return true;
      case Slot::kDsActions:
      case Slot::kDsProbs: {
        Frame a(Kind::kDsArray, f.ex, 0);
        a.array_of = s;
        if (s == Slot::kDsProbs && ds_ != nullptr) ds_->probabilities.clear();
        stack_.push_back(std::move(a));
        return true;
      }
      default:
        return unexpected("[");
    }
  }
  bool end_array() {
    if (skip_ > 0) {
      --skip_;
      return true;
    }
    Frame f = std::move(top());
    stack_.pop_back();
    next_ = Slot::kFeature;
    if (f.kind == Kind::kArrayNs) close_namespace(f);
    return true;
  }
  bool parse_error(std::size_t position, const std::string&, const Json::exception& e) {
    if (error_.empty()) {
      std::string what = e.what();
      const size_t colon = what.find(": ");  // "[json.exception...] parse error at line 1, column N: why"
      if (colon != std::string::npos) what.erase(0, colon + 2);
      error_ = "not valid JSON (byte " + std::to_string(position) + "): " + what;
    }
    return false;
  }

  void start(Example& top_ex) { top_ex_ = &top_ex; }
  const std::string& error() const { return error_; }
  // Slots in the order VW lists them: by when their first non-empty namespace closed.
  void apply_order() {
    for (auto& [at, order] : closed_) t_.example(at).order = order;
  }

 private:
  Frame& top() { return stack_.back(); }
  Slot take() {
    const Slot s = next_;
    next_ = Slot::kFeature;
    return s;
  }
  bool fail(std::string why) {
    if (error_.empty()) error_ = std::move(why);
    return false;
  }
  bool unexpected(const std::string& what) {
    if (top().kind == Kind::kArrayNs) return fail("an array of features holds numbers, not " + what);
    if (top().kind == Kind::kMulti) return fail("_multi holds objects (one per action), not " + what);
    std::string msg = "unexpected " + what;
    if (top().kind == Kind::kDsRoot) {
      msg += " at the line's top level";
    } else {
      msg += " as the value of \"";
      msg += excerpt(key_);
      msg.push_back('"');
    }
    return fail(std::move(msg));
  }

  void push_namespace(Example& ex, size_t at, std::string_view name) {
    Frame f(Kind::kNamespace, &ex, at);
    f.slot = name.empty() ? 0 : static_cast<unsigned char>(name[0]);
    f.hash = hash_namespace(c_string(name));
    f.name = name == " " ? std::string() : std::string(name);
    stack_.push_back(std::move(f));
  }
  void close_namespace(const Frame& f) {
    if (f.features == 0) return;
    auto it = std::find_if(closed_.begin(), closed_.end(), [&](const auto& p) { return p.first == f.at; });
    if (it == closed_.end()) {
      closed_.emplace_back(f.at, std::vector<unsigned char>());
      it = closed_.end() - 1;
    }
    if (std::find(it->second.begin(), it->second.end(), f.slot) == it->second.end()) it->second.push_back(f.slot);
  }
  void add(Frame& f, uint32_t index, float value, std::string_view feature, std::string_view text) {
    ++f.features;
    if (f.ex->has_names)
      f.ex->add_named(f.slot, index, value, audit_name(f.name, feature, text));
    else
      f.ex->add(f.slot, index, value);
  }
  void feature(Frame& f, std::string_view name, float value) {
    add(f, hash_feature(c_string(name), f.hash), value, name, std::string_view());
  }
  // "key": "value": the feature key+value (VW's default), or key:value chained (--chain_hash); the
  // value's spaces, tabs, '|' and ':' become '_' as in VW.
  void string_feature(Frame& f, std::string& value) {
    for (char& c : value) {
      if (c == ' ' || c == '\t' || c == '|' || c == ':') c = '_';
    }
    if (opt_.chain_hash) {
      add(f, hash_string(c_string(value), hash_string(c_string(key_), f.hash)), 1.f, key_, value);
      return;
    }
    joined_.assign(key_);
    joined_.append(value);
    add(f, hash_feature(c_string(joined_), f.hash), 1.f, joined_, std::string_view());
  }
  // _text: tokens split on spaces and tabs, ':' and '|' made '_'.
  void text(Frame& f, std::string& s) {
    size_t i = 0;
    while (i < s.size()) {
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t')) ++i;
      size_t j = i;
      while (j < s.size() && s[j] != ' ' && s[j] != '\t') {
        if (s[j] == ':' || s[j] == '|') s[j] = '_';
        ++j;
      }
      if (j > i) {
        const std::string_view tok(s.data() + i, j - i);
        add(f, hash_feature(c_string(tok), f.hash), 1.f, tok, std::string_view());
      }
      i = j;
    }
  }

  bool number(double d, bool is_unsigned) {
    if (skip_ > 0) return true;
    if (stack_.empty()) return fail("a line is a JSON object, not a number");
    const Slot s = take();
    Frame& f = top();
    const auto v = static_cast<float>(d);
    auto finite = [&](std::string_view what) {
      if (std::isfinite(v)) return true;
      return fail(std::string(what) + " \"" + excerpt(key_) + "\" is not a finite number (as a float)");
    };
    switch (s) {
      case Slot::kSkip:
        return true;
      case Slot::kFeature:
        if (f.kind == Kind::kNamespace) {
          if (!finite("feature")) return false;
          if (v != 0.f) feature(f, key_, v);
          return true;
        }
        if (f.kind == Kind::kArrayNs) {
          if (!std::isfinite(v)) return fail("a value in array \"" + excerpt(f.name) + "\" is not a finite number");
          if (v != 0.f) {
            const std::string pos = f.ex->has_names ? "[" + std::to_string(f.position) + "]" : std::string();
            add(f, f.hash + f.position, v, pos, std::string_view());
          }
          ++f.position;
          return true;
        }
        if (f.kind == Kind::kDsArray) return ds_number(f, d, is_unsigned);
        return unexpected("number");
      case Slot::kLabel:
        if (t_.cb_labels()) return fail("a bandit's _label is \"action:cost:probability\" or an object, not a number");
        if (!std::isfinite(v)) return fail("_label is not a finite number");
        f.ex->label = v;
        return true;
      case Slot::kLabelProp:
      case Slot::kLabelField:
        return label_field(f, prop_, v, s == Slot::kLabelProp);
      case Slot::kLabelIndex:
        if (!is_unsigned || unsigned_ > std::numeric_limits<uint32_t>::max())
          return fail("_labelIndex is a non-negative integer (the 0-based index of the chosen action)");
        label_index_ = static_cast<long long>(unsigned_);
        return true;
      case Slot::kDsActions:
      case Slot::kDsProbs: {  // a single value without its array, as VW allows
        Frame a(Kind::kDsArray, f.ex, 0);
        a.array_of = s;
        if (s == Slot::kDsProbs && ds_ != nullptr) ds_->probabilities.clear();
        return ds_number(a, d, is_unsigned);
      }
      case Slot::kDsPdrop:
        if (!(v >= 0.f && v <= 1.f)) return fail("pdrop is a probability in [0, 1]");
        if (ds_ != nullptr) ds_->pdrop = v;
        return true;
      default:
        return unexpected("number");
    }
  }
  bool ds_number(Frame& f, double d, bool is_unsigned) {
    if (f.array_of == Slot::kDsActions) {
      if (!is_unsigned || unsigned_ > std::numeric_limits<uint32_t>::max())
        return fail("\"a\" holds action numbers (non-negative integers)");
      if (ds_ != nullptr) ds_->actions.push_back(static_cast<uint32_t>(unsigned_));
      return true;
    }
    const auto v = static_cast<float>(d);
    if (!std::isfinite(v)) return fail("a probability in \"p\" is not a finite number");
    if (ds_ != nullptr) ds_->probabilities.push_back(v);
    return true;
  }

  // Keys starting with '_' in an example's object: VW's, or skipped.
  bool special_key(const Frame& f) {
    const std::string_view k = key_;
    if (k.size() >= 6 && k.substr(0, 6) == "_label") {
      if (k.size() >= 7 && k[6] == '_') {
        prop_ = std::string(k.substr(7));
        if (prop_.size() >= 2 && prop_.compare(0, 2, "ca") == 0)
          return fail("\"" + excerpt(k) + "\": continuous-action labels are not supported");
        next_ = Slot::kLabelProp;
        return true;
      }
      if (k.size() == 6) {
        next_ = Slot::kLabel;
        return true;
      }
      if (iequals(k, "_labelIndex")) {
        next_ = Slot::kLabelIndex;
        return true;
      }
      return fail("unsupported key \"" + excerpt(k) + "\"");
    }
    if (k == "_text") {
      next_ = Slot::kText;
      return true;
    }
    if (k == "_multi") {
      next_ = Slot::kMulti;
      return true;
    }
    if (iequals(k, "_tag")) {
      next_ = Slot::kTag;
      return true;
    }
    if (k == "_slots" || k == "_slot_id")
      return fail("\"" + std::string(k) + "\": conditional contextual bandits and slates are not supported");
    if (k == "_graph") return fail("\"_graph\": graph feedback is not supported");
    if (iequals(k, "__aid")) return fail("\"__aid\": deduplicated actions are not supported");
    if (k == "_original_label_cost" && !opt_.dsjson) return fail("\"_original_label_cost\" belongs to --dsjson lines");
    (void)f;
    next_ = Slot::kSkip;  // VW skips every other '_' key, whatever its value
    return true;
  }

  bool ds_key(Json::string_t& k) {
    key_ = std::move(k);
    const std::string_view s = key_;
    next_ = Slot::kSkip;  // VW skips the keys it does not know (Version, VWState, o, pdf, ...)
    if (s == "a") {
      next_ = Slot::kDsActions;
    } else if (s == "p" || s == "_p") {
      next_ = Slot::kDsProbs;
    } else if (s == "c") {
      next_ = Slot::kDsContext;
    } else if (s == "EventId") {
      next_ = Slot::kDsEventId;
    } else if (s == "Timestamp") {
      next_ = Slot::kDsTimestamp;
    } else if (s == "pdrop") {
      next_ = Slot::kDsPdrop;
    } else if (s == "_skipLearn") {
      next_ = Slot::kDsSkipLearn;
    } else if (s == "_outcomes") {
      return fail("\"_outcomes\": conditional contextual bandits and slates are not supported");
    } else if (s.size() >= 6 && s.substr(0, 6) == "_label") {
      return special_key(top());
    }
    return true;
  }

  // _label's value as a string: the text format's label.
  bool string_label(Frame& f, const std::string& s) {
    if (s.find('|') != std::string::npos) return fail("_label \"" + excerpt(s) + "\" holds a '|'");
    if (t_.cb_labels()) {
      CbLineLabel lab;
      const ParseResult pr = parse_cb_line(s, scratch_, lab);
      if (pr.status == ParseStatus::kError) return fail("_label: " + pr.error);
      if (lab.shared) return fail("_label \"shared\": the shared context is the line's top level");
      if (!scratch_.tag.empty()) return fail("_label \"" + excerpt(s) + "\": too many words");
      if (lab.labelled) out_.cb.push_back(JsonCbLabel{f.at, lab.cost});
      return true;
    }
    std::string line = s;
    line += " |";
    const ParseResult pr = parse_vw_line(line, scratch_);
    if (pr.status == ParseStatus::kError) return fail("_label: " + pr.error);
    if (!scratch_.tag.empty()) return fail("_label \"" + excerpt(s) + "\": expected label [weight [initial]]");
    f.ex->label = scratch_.label;
    f.ex->weight = scratch_.weight;
    f.ex->initial = scratch_.initial;
    return true;
  }
  // One label property: Label, Weight, Initial (a plain model's, set now) or Action, Cost,
  // Probability (a bandit's: at the end of the label object, or of the example for _label_<Name>).
  bool label_field(Frame& f, const std::string& name, float v, bool single) {
    const bool simple = iequals(name, "Label") || iequals(name, "Weight") || iequals(name, "Initial");
    const bool cb = iequals(name, "Action") || iequals(name, "Cost") || iequals(name, "Probability");
    if (!simple && !cb) return fail("unsupported label property \"" + excerpt(name) + "\"");
    if (!std::isfinite(v)) return fail("label property \"" + excerpt(name) + "\" is not a finite number");
    if (simple) {
      if (t_.cb_labels())
        return fail("label property \"" + name + "\" is a plain model's; a bandit's are Action, Cost, Probability");
      if (iequals(name, "Label")) {
        f.ex->label = v;
      } else if (iequals(name, "Weight")) {
        if (v < 0.f) return fail("label weight must be >= 0");
        f.ex->weight = v;
      } else {
        f.ex->initial = v;
      }
      return true;
    }
    if (!t_.cb_labels()) return fail("label property \"" + name + "\" is a bandit's (--cb_adf, --cb K, ...)");
    PendingLabel& p = single ? single_ : label_;
    p.cb = true;
    if (iequals(name, "Action")) {
      if (!(v >= 0.f) || v != std::floor(v) || v > 4e9f) return fail("label Action is a non-negative integer");
      p.cost.action = static_cast<uint32_t>(v);
    } else if (iequals(name, "Cost")) {
      p.cost.cost = v;
    } else {
      p.cost.probability = v;
    }
    return true;
  }
  bool end_label_object(const Frame& f) {
    if (label_.cb) out_.cb.push_back(JsonCbLabel{f.at, label_.cost});
    label_ = PendingLabel{};
    return true;
  }
  // The example's object ended: a pending _label_ cost goes to action _labelIndex (or the top level).
  bool end_example() {
    size_t at = 0;
    if (label_index_ >= 0) {
      if (static_cast<size_t>(label_index_) >= out_.actions) {
        return fail("_labelIndex " + std::to_string(label_index_) + " is not an action of this event (it has " +
                    std::to_string(out_.actions) + ")");
      }
      at = static_cast<size_t>(label_index_) + 1;
      label_index_ = -1;
    }
    if (single_.cb) out_.cb.push_back(JsonCbLabel{at, single_.cost});
    single_ = PendingLabel{};
    return true;
  }

  JsonTarget& t_;
  const JsonOptions& opt_;
  JsonParse& out_;
  DsInfo* ds_;
  Example* top_ex_ = nullptr;
  std::vector<Frame> stack_;
  Slot next_ = Slot::kFeature;
  std::string key_;
  std::string prop_;
  std::string joined_;
  std::string error_;
  int skip_ = 0;  // depth inside a skipped value
  uint64_t unsigned_ = 0;
  bool in_context_ = false;  // inside --dsjson's "c"
  long long label_index_ = -1;
  PendingLabel label_;   // the open label object's
  PendingLabel single_;  // _label_<Name> properties, applied at the end of the example
  std::vector<std::pair<size_t, std::vector<unsigned char>>> closed_;  // by example (0: the top level)
  Example scratch_;
};

bool blank(std::string_view line) { return line.find_first_not_of(" \t") == std::string_view::npos; }

}  // namespace

void parse_json(std::string_view line, JsonTarget& target, const JsonOptions& opt, JsonParse& out, DsInfo* ds) {
  out = JsonParse{};
  if (ds != nullptr) ds->clear();
  Example& top = target.top();
  top.clear();
  top.has_names = opt.names;
  if (blank(line)) {
    out.status = ParseStatus::kBlank;
    return;
  }
  Handler h(target, opt, out, ds);
  h.start(top);
  if (!Json::sax_parse(line.begin(), line.end(), &h)) {
    out.status = ParseStatus::kError;
    out.error = h.error().empty() ? std::string("not valid JSON") : h.error();
    return;
  }
  h.apply_order();
}

namespace {

class PlainTarget : public JsonTarget {
 public:
  explicit PlainTarget(Example& ex) : ex_(ex) {}
  Example& top() override { return ex_; }
  Example* action() override { return nullptr; }
  bool takes_actions() const override { return false; }
  Example& example(size_t) override { return ex_; }
  bool cb_labels() const override { return false; }

 private:
  Example& ex_;
};

class EventTarget : public JsonTarget {
 public:
  EventTarget(CbEventBuilder& b, CbEvent& ev, Example& single, bool fixed)
      : b_(b), ev_(ev), single_(single), fixed_(fixed) {}
  Example& top() override { return fixed_ ? single_ : b_.shared_example(ev_); }
  Example* action() override { return fixed_ ? nullptr : &b_.action_example(ev_); }
  bool takes_actions() const override { return !fixed_; }
  Example& example(size_t at) override { return at == 0 ? (fixed_ ? single_ : ev_.shared) : ev_.actions[at - 1]; }
  bool cb_labels() const override { return true; }

 private:
  CbEventBuilder& b_;
  CbEvent& ev_;
  Example& single_;
  bool fixed_;
};

}  // namespace

ParseResult parse_json_example(std::string_view line, Example& ex, const JsonOptions& opt, DsInfo* ds) {
  thread_local JsonParse out;
  thread_local DsInfo own;
  PlainTarget target(ex);
  parse_json(line, target, opt, out, opt.dsjson && ds == nullptr ? &own : ds);
  ParseResult r;
  r.status = out.status;
  r.error = std::move(out.error);
  if (r.status == ParseStatus::kExample && opt.dsjson && (ds != nullptr ? ds : &own)->skip_learn)
    r.status = ParseStatus::kBlank;
  return r;
}

int parse_json_event(std::string_view line, uint64_t no, CbEventBuilder& builder, CbEvent& ev, bool fixed,
                     const JsonOptions& opt, DsInfo* ds) {
  thread_local JsonParse out;
  thread_local DsInfo own;
  thread_local Example single;
  DsInfo* info = opt.dsjson ? (ds != nullptr ? ds : &own) : ds;
  builder.begin(ev, no);
  EventTarget target(builder, ev, single, fixed);
  parse_json(line, target, opt, out, info);
  if (out.status == ParseStatus::kBlank) return 0;
  if (out.status == ParseStatus::kError) {
    builder.refuse(no, out.error);
    return -1;
  }
  if (opt.dsjson && info != nullptr) {
    // VW skips these lines without a word: _skipLearn, and a bandit event whose "a" is empty
    if (info->skip_learn || (!fixed && info->actions.empty())) return 0;
    if (info->pdrop != 0.f) {
      builder.refuse(no,
                     "pdrop " + std::to_string(info->pdrop) +
                         ": events logged with a probability of drop are not supported (VW weights them 1/(1-pdrop))");
      return -1;
    }
  }
  if (fixed) {
    if (out.multi) {
      builder.refuse(no, "_multi belongs to --cb_adf/--cb_explore_adf events; with --cb K a line is one example");
      return -1;
    }
    CbLineLabel lab;
    if (out.cb.size() > 1) {
      builder.refuse(no, "two costs on one example: one labelled action per event");
      return -1;
    }
    if (!out.cb.empty()) {
      lab.labelled = true;
      lab.cost = out.cb[0].cost;
      const float p = lab.cost.probability;
      if (!std::isfinite(lab.cost.cost)) {
        builder.refuse(no, "label Cost missing or not a finite number");
        return -1;
      }
      if (!(p > 0.f && p <= 1.f)) {
        builder.refuse(no, "label Probability " + std::to_string(p) + " is outside (0, 1] (or missing)");
        return -1;
      }
    }
    return builder.fixed_example(ev, single, lab, no) ? 1 : -1;
  }
  if (!out.multi) {
    builder.refuse(no, "a bandit event in JSON lists its actions in _multi (the top level is the shared context)");
    return -1;
  }
  builder.added(ev.shared);
  for (size_t i = 0; i < ev.n; ++i) builder.added(ev.actions[i]);
  if (!ev.shared.tag.empty()) ev.tag = ev.shared.tag;
  for (const JsonCbLabel& l : out.cb) {
    if (l.at == 0) {
      builder.refuse(no,
                     "a cost on the shared context: give _labelIndex (the chosen action's 0-based index) "
                     "or put the label in the action's object");
      return -1;
    }
    if (ev.label_index >= 0) {
      builder.refuse(
          no, "a second labelled action in one event (the first is action " + std::to_string(ev.label_index) + ")");
      return -1;
    }
    if (!std::isfinite(l.cost.cost)) {
      builder.refuse(no, "label Cost missing or not a finite number");
      return -1;
    }
    if (!builder.set_label(ev, static_cast<long long>(l.at - 1), l.cost.cost, l.cost.probability)) {
      const std::string why = builder.error();
      builder.refuse(no, why);
      return -1;
    }
  }
  return builder.end(ev) ? 1 : -1;
}

}  // namespace wabbit
