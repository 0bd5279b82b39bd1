//! Metadata policy engine of OpenID Federation 1.0 (§6.1, "Metadata Policy").
//!
//! Trust anchors and intermediates constrain the metadata of the entities below them with a
//! `metadata_policy`: for each metadata parameter of an entity type, a JSON object of operators
//! (`value`, `add`, `default`, `one_of`, `subset_of`, `superset_of`, `essential`). This module
//! validates such policies, merges them down a trust chain ([`merge`], [`merge_chain`]) and applies
//! the result to an entity's metadata ([`apply`]). Everything works on one entity type at a time:
//! the caller picks `metadata_policy["openid_relying_party"]` and the matching metadata.
//!
//! The rules follow the operator definitions of §6.1.3.1 and the resolution and application steps
//! of §6.1.4 (text of draft 45, whose policy language has been stable since draft 42):
//!
//! - Operator values are merged per operator: `value` and `default` must be equal, `add` and
//!   `superset_of` are unions, `one_of` and `subset_of` intersections (an empty `one_of` is an
//!   error, an empty `subset_of` is allowed), `essential` is a logical OR.
//! - Each parameter policy, on its own and after every merge, must hold only allowed operator
//!   combinations; a conditional combination whose condition fails is a conflict.
//! - Operators apply in the order `value`, `add`, `default`, `one_of`, `subset_of`,
//!   `superset_of`, `essential`; an empty `subset_of` intersection leaves `[]`, it does not remove
//!   the parameter (the rule since draft 42, so that a `default` cannot refill it).
//! - The OAuth `scope` parameter, a space-separated string, is handled as an array of scope
//!   values and written back as a string.
//!
//! We support no extension operators, so any other operator name is an error: the spec would let
//! a non-critical unknown operator be ignored, but ignoring part of a superior's policy is the
//! less safe reading for an OpenID provider. JSON arrays are compared as sets (order and
//! duplicates do not matter), which is what the operators mean by "values".
//!
//! Policies and metadata come from the network, so the work is bounded: a policy of more than 256
//! parameters, or an operator or constrained metadata array of more than 1,024 entries, is
//! refused as malformed (an error about the policy as a whole names the parameter `*`).

use std::borrow::Cow;

use serde_json::{Map, Value};

/// Most metadata parameters one entity-type policy may constrain.
const MAX_PARAMETERS: usize = 256;

/// Most entries an array in a policy, or a constrained metadata array, may hold. It keeps the
/// quadratic set comparisons small.
const MAX_ARRAY_LEN: usize = 1024;

/// The `parameter` of an error about the policy as a whole rather than one parameter.
const WHOLE_POLICY: &str = "*";

/// The one metadata parameter the spec asks operators to treat as a set although it is a string.
const SCOPE: &str = "scope";

/// How long an offending value may get in an error message.
const MAX_DESCRIBED_CHARS: usize = 80;

/// Why a policy could not be merged or applied. Any of them makes the trust chain invalid.
///
/// The messages may be shown to a client (an OAuth `error_description`): they name only
/// metadata parameters and policy values, which federations publish anyway.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum PolicyError {
    /// The policy (or the metadata it constrains) is not of the shape or size the operators take.
    #[error("malformed metadata policy for `{parameter}`: {reason}")]
    Malformed { parameter: String, reason: String },
    /// The policy uses an operator this engine does not implement.
    #[error("unsupported metadata policy operator `{operator}` for `{parameter}`")]
    UnknownOperator { parameter: String, operator: String },
    /// Two operators, or a superior's and a subordinate's operator, contradict each other.
    #[error("conflicting metadata policy for `{parameter}`: {reason}")]
    Conflict { parameter: String, reason: String },
    /// The entity's metadata does not satisfy the policy.
    #[error("metadata parameter `{parameter}` violates the federation policy: {reason}")]
    Violation { parameter: String, reason: String },
}

/// Merges a subordinate's policy for one entity type into its superior's (the one closer to the
/// trust anchor), as §6.1.4.1 describes. Both are validated first; the result holds every
/// parameter of either and is again a valid policy.
pub fn merge(
    superior: &Map<String, Value>,
    subordinate: &Map<String, Value>,
) -> Result<Map<String, Value>, PolicyError> {
    let superior = Policy::parse(superior)?;
    let subordinate = Policy::parse(subordinate)?;
    let mut merged = Vec::with_capacity(superior.parameters.len());
    for (name, upper) in &superior.parameters {
        let combined = match subordinate.get(name) {
            Some(lower) => merge_parameter(name, upper, lower)?,
            None => upper.clone(),
        };
        merged.push((name.clone(), combined));
    }
    for (name, lower) in &subordinate.parameters {
        if superior.get(name).is_none() {
            merged.push((name.clone(), lower.clone()));
        }
    }
    check_parameter_count(merged.len())?;
    Ok(Policy { parameters: merged }.to_json())
}

/// Merges the policies of a trust chain for one entity type, from the trust anchor's (first) down
/// to that of the subject's immediate superior (last). Statements without a policy for the type
/// are simply left out of `policies`; an empty chain gives an empty policy.
pub fn merge_chain(policies: &[&Map<String, Value>]) -> Result<Map<String, Value>, PolicyError> {
    let Some((first, rest)) = policies.split_first() else {
        return Ok(Map::new());
    };
    let mut merged = Policy::parse(first)?.to_json();
    for next in rest {
        merged = merge(&merged, next)?;
    }
    Ok(merged)
}

/// Applies a (merged) policy to an entity's metadata for the same entity type and returns the
/// resolved metadata. Parameters without a policy pass through unchanged.
pub fn apply(
    policy: &Map<String, Value>,
    metadata: &Map<String, Value>,
) -> Result<Map<String, Value>, PolicyError> {
    let policy = Policy::parse(policy)?;
    let mut resolved = metadata.clone();
    for (name, parameter_policy) in &policy.parameters {
        // A null parameter is no value at all: operators must never output null, so it is absent.
        let current = resolved.get(name).filter(|value| !value.is_null()).cloned();
        match apply_parameter(name, parameter_policy, current)? {
            Some(value) => {
                resolved.insert(name.clone(), value);
            }
            // `retain` rather than `remove`: with serde_json's `preserve_order` it keeps the
            // order of the other parameters.
            None => resolved.retain(|key, _| key != name),
        }
    }
    Ok(resolved)
}

/// A validated policy for one entity type, parameters in their original order.
struct Policy {
    parameters: Vec<(String, ParameterPolicy)>,
}

impl Policy {
    fn parse(policy: &Map<String, Value>) -> Result<Self, PolicyError> {
        check_parameter_count(policy.len())?;
        let parameters = policy
            .iter()
            .map(|(name, operators)| Ok((name.clone(), ParameterPolicy::parse(name, operators)?)))
            .collect::<Result<Vec<_>, PolicyError>>()?;
        Ok(Self { parameters })
    }

    fn get(&self, name: &str) -> Option<&ParameterPolicy> {
        self.parameters
            .iter()
            .find(|(candidate, _)| candidate == name)
            .map(|(_, policy)| policy)
    }

    fn to_json(&self) -> Map<String, Value> {
        self.parameters
            .iter()
            .map(|(name, policy)| (name.clone(), Value::Object(policy.to_json())))
            .collect()
    }
}

/// The operators of one parameter policy. `value: Some(Value::Null)` is the operator `value: null`
/// (remove the parameter), not an absent operator.
#[derive(Debug, Clone, Default, PartialEq)]
struct ParameterPolicy {
    value: Option<Value>,
    add: Option<Vec<Value>>,
    default: Option<Value>,
    one_of: Option<Vec<Value>>,
    subset_of: Option<Vec<Value>>,
    superset_of: Option<Vec<Value>>,
    essential: Option<bool>,
}

impl ParameterPolicy {
    /// Reads and type-checks the operators, then checks that they may be combined.
    fn parse(parameter: &str, operators: &Value) -> Result<Self, PolicyError> {
        let Value::Object(operators) = operators else {
            return Err(malformed(
                parameter,
                "a parameter policy must be a JSON object of operators",
            ));
        };
        let mut policy = Self::default();
        for (operator, operand) in operators {
            match operator.as_str() {
                "value" => policy.value = Some(parse_value_operand(parameter, operand)?),
                "add" => policy.add = Some(parse_array_operand(parameter, operator, operand)?),
                "default" => policy.default = Some(parse_default_operand(parameter, operand)?),
                "one_of" => policy.one_of = Some(parse_one_of_operand(parameter, operand)?),
                "subset_of" => {
                    policy.subset_of = Some(parse_array_operand(parameter, operator, operand)?);
                }
                "superset_of" => {
                    policy.superset_of = Some(parse_array_operand(parameter, operator, operand)?);
                }
                "essential" => {
                    policy.essential = Some(parse_essential_operand(parameter, operand)?)
                }
                _ => {
                    return Err(PolicyError::UnknownOperator {
                        parameter: parameter.to_owned(),
                        operator: operator.clone(),
                    });
                }
            }
        }
        check_combinations(parameter, &policy)?;
        Ok(policy)
    }

    fn to_json(&self) -> Map<String, Value> {
        let mut operators = Map::new();
        let mut put = |name: &str, operand: Option<Value>| {
            if let Some(operand) = operand {
                operators.insert(name.to_owned(), operand);
            }
        };
        put("value", self.value.clone());
        put("add", self.add.clone().map(Value::Array));
        put("default", self.default.clone());
        put("one_of", self.one_of.clone().map(Value::Array));
        put("subset_of", self.subset_of.clone().map(Value::Array));
        put("superset_of", self.superset_of.clone().map(Value::Array));
        put("essential", self.essential.map(Value::Bool));
        operators
    }

    fn is_essential(&self) -> bool {
        self.essential == Some(true)
    }
}

// ---------------------------------------------------------------------------------------------
// Operand types (§6.1.3.1: "When the operator is configured with a JSON value type that is not
// supported, the operator MUST produce a policy error").

fn parse_value_operand(parameter: &str, operand: &Value) -> Result<Value, PolicyError> {
    if let Value::Array(items) = operand {
        check_operand_array_len(parameter, "value", items)?;
    }
    Ok(operand.clone())
}

fn parse_default_operand(parameter: &str, operand: &Value) -> Result<Value, PolicyError> {
    match operand {
        // A null default would output a null parameter, which no operator may do.
        Value::Null => Err(malformed(parameter, "`default` must not be null")),
        Value::Array(items) => {
            check_operand_array_len(parameter, "default", items)?;
            Ok(operand.clone())
        }
        _ => Ok(operand.clone()),
    }
}

/// `add`, `subset_of` and `superset_of` take arrays of strings, numbers or objects (booleans too:
/// they compare just as well).
fn parse_array_operand(
    parameter: &str,
    operator: &str,
    operand: &Value,
) -> Result<Vec<Value>, PolicyError> {
    let Value::Array(items) = operand else {
        return Err(malformed(
            parameter,
            format!("`{operator}` must be an array"),
        ));
    };
    check_operand_array_len(parameter, operator, items)?;
    if items
        .iter()
        .any(|item| matches!(item, Value::Null | Value::Array(_)))
    {
        return Err(malformed(
            parameter,
            format!("`{operator}` entries must be strings, numbers, booleans or objects"),
        ));
    }
    Ok(items.clone())
}

/// `one_of` picks a single value, so its entries are scalars.
fn parse_one_of_operand(parameter: &str, operand: &Value) -> Result<Vec<Value>, PolicyError> {
    let Value::Array(items) = operand else {
        return Err(malformed(parameter, "`one_of` must be an array"));
    };
    check_operand_array_len(parameter, "one_of", items)?;
    // No value can be one of nothing: an empty `one_of` would forbid the parameter in
    // a way no merge can keep consistent (merged with itself, it has nothing in
    // common). Found by the `federation_statement` fuzz target.
    if items.is_empty() {
        return Err(malformed(parameter, "`one_of` must not be empty"));
    }
    if !items
        .iter()
        .all(|item| matches!(item, Value::String(_) | Value::Number(_) | Value::Bool(_)))
    {
        return Err(malformed(
            parameter,
            "`one_of` entries must be strings, numbers or booleans",
        ));
    }
    Ok(items.clone())
}

fn parse_essential_operand(parameter: &str, operand: &Value) -> Result<bool, PolicyError> {
    operand
        .as_bool()
        .ok_or_else(|| malformed(parameter, "`essential` must be a boolean"))
}

fn check_parameter_count(count: usize) -> Result<(), PolicyError> {
    if count > MAX_PARAMETERS {
        return Err(malformed(
            WHOLE_POLICY,
            format!("more than {MAX_PARAMETERS} parameters"),
        ));
    }
    Ok(())
}

fn check_operand_array_len(
    parameter: &str,
    operator: &str,
    items: &[Value],
) -> Result<(), PolicyError> {
    if items.len() > MAX_ARRAY_LEN {
        return Err(malformed(
            parameter,
            format!("`{operator}` has more than {MAX_ARRAY_LEN} entries"),
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Operator combinations (the "Combination with other operators" lists of §6.1.3.1.1-7). They
// hold for a single statement's policy as well as for a merged one.

fn check_combinations(parameter: &str, policy: &ParameterPolicy) -> Result<(), PolicyError> {
    check_one_of_stands_apart(parameter, policy)?;
    if let Some(value) = &policy.value {
        check_value_combinations(parameter, value, policy)?;
    }
    check_add_within_subset_of(parameter, policy)?;
    check_superset_of_within_subset_of(parameter, policy)
}

/// `one_of` selects a single value while the array operators constrain a list: the spec allows
/// `one_of` only next to `value`, `default` and `essential`.
fn check_one_of_stands_apart(parameter: &str, policy: &ParameterPolicy) -> Result<(), PolicyError> {
    if policy.one_of.is_none() {
        return Ok(());
    }
    let array_operators = [
        ("add", policy.add.is_some()),
        ("subset_of", policy.subset_of.is_some()),
        ("superset_of", policy.superset_of.is_some()),
    ];
    match array_operators.iter().find(|(_, present)| *present) {
        Some((operator, _)) => Err(conflict(
            parameter,
            format!("`one_of` cannot be combined with `{operator}`"),
        )),
        None => Ok(()),
    }
}

/// A fixed `value` must itself satisfy every other operator, or the policy could never be met.
fn check_value_combinations(
    parameter: &str,
    value: &Value,
    policy: &ParameterPolicy,
) -> Result<(), PolicyError> {
    if value.is_null() {
        if policy.default.is_some() {
            return Err(conflict(
                parameter,
                "`value` null (remove) cannot be combined with `default`",
            ));
        }
        if policy.is_essential() {
            return Err(conflict(
                parameter,
                "`value` null (remove) cannot be combined with `essential` true",
            ));
        }
    }
    if let Some(one_of) = &policy.one_of
        && !contains(one_of, value)
    {
        return Err(conflict(
            parameter,
            format!(
                "`value` {} is not among the `one_of` values",
                describe(value)
            ),
        ));
    }
    let array_operators = [
        ("add", policy.add.as_deref()),
        ("subset_of", policy.subset_of.as_deref()),
        ("superset_of", policy.superset_of.as_deref()),
    ];
    if array_operators.iter().all(|(_, operand)| operand.is_none()) {
        return Ok(());
    }
    // A removed parameter holds no values at all.
    let Some(values) = value_members(parameter, value) else {
        return Err(conflict(
            parameter,
            "`value` must be an array to be combined with `add`, `subset_of` or `superset_of`",
        ));
    };
    if let Some(add) = &policy.add
        && !is_subset(add, &values)
    {
        return Err(conflict(
            parameter,
            "the `add` values must be a subset of `value`",
        ));
    }
    if let Some(subset_of) = &policy.subset_of
        && !is_subset(&values, subset_of)
    {
        return Err(conflict(
            parameter,
            "the `value` values must be a subset of `subset_of`",
        ));
    }
    if let Some(superset_of) = &policy.superset_of
        && !is_subset(superset_of, &values)
    {
        return Err(conflict(
            parameter,
            "the `value` values must be a superset of `superset_of`",
        ));
    }
    Ok(())
}

/// The values a `value` operand stands for when compared with array operators: none for `null`.
fn value_members<'a>(parameter: &str, value: &'a Value) -> Option<Cow<'a, [Value]>> {
    match value {
        Value::Null => Some(Cow::Owned(Vec::new())),
        _ => set_members(parameter, value),
    }
}

fn check_add_within_subset_of(
    parameter: &str,
    policy: &ParameterPolicy,
) -> Result<(), PolicyError> {
    if let (Some(add), Some(subset_of)) = (&policy.add, &policy.subset_of)
        && !is_subset(add, subset_of)
    {
        return Err(conflict(
            parameter,
            "the `add` values must be a subset of `subset_of`",
        ));
    }
    Ok(())
}

fn check_superset_of_within_subset_of(
    parameter: &str,
    policy: &ParameterPolicy,
) -> Result<(), PolicyError> {
    if let (Some(superset_of), Some(subset_of)) = (&policy.superset_of, &policy.subset_of)
        && !is_subset(superset_of, subset_of)
    {
        return Err(conflict(
            parameter,
            "the `superset_of` values must be a subset of `subset_of`",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Merging (§6.1.4.1 and the "Operator value merge" rule of each operator). A subordinate may
// only restrict what its superior allows, never relax it.

fn merge_parameter(
    parameter: &str,
    superior: &ParameterPolicy,
    subordinate: &ParameterPolicy,
) -> Result<ParameterPolicy, PolicyError> {
    let merged = ParameterPolicy {
        value: merge_operand(&superior.value, &subordinate.value, |upper, lower| {
            merge_equal_operands(parameter, "value", upper, lower)
        })?,
        add: merge_operand(&superior.add, &subordinate.add, |upper, lower| {
            Ok(union(upper, lower))
        })?,
        default: merge_operand(&superior.default, &subordinate.default, |upper, lower| {
            merge_equal_operands(parameter, "default", upper, lower)
        })?,
        one_of: merge_operand(&superior.one_of, &subordinate.one_of, |upper, lower| {
            merge_one_of(parameter, upper, lower)
        })?,
        subset_of: merge_operand(
            &superior.subset_of,
            &subordinate.subset_of,
            |upper, lower| Ok(intersection(upper, lower)),
        )?,
        superset_of: merge_operand(
            &superior.superset_of,
            &subordinate.superset_of,
            |upper, lower| Ok(union(upper, lower)),
        )?,
        // OR: a superior's `true` survives a subordinate's `false`.
        essential: merge_operand(
            &superior.essential,
            &subordinate.essential,
            |upper, lower| Ok(*upper || *lower),
        )?,
    };
    for (operator, operand) in [("add", &merged.add), ("superset_of", &merged.superset_of)] {
        if let Some(items) = operand {
            check_operand_array_len(parameter, operator, items)?;
        }
    }
    check_combinations(parameter, &merged)?;
    Ok(merged)
}

/// An operator present on one side only is copied; present on both, its operands are combined.
fn merge_operand<T: Clone>(
    superior: &Option<T>,
    subordinate: &Option<T>,
    combine: impl FnOnce(&T, &T) -> Result<T, PolicyError>,
) -> Result<Option<T>, PolicyError> {
    match (superior, subordinate) {
        (Some(upper), Some(lower)) => combine(upper, lower).map(Some),
        (Some(only), None) | (None, Some(only)) => Ok(Some(only.clone())),
        (None, None) => Ok(None),
    }
}

fn merge_equal_operands(
    parameter: &str,
    operator: &str,
    superior: &Value,
    subordinate: &Value,
) -> Result<Value, PolicyError> {
    if same_json(superior, subordinate) {
        Ok(superior.clone())
    } else {
        Err(conflict(
            parameter,
            format!(
                "the superior's `{operator}` {} differs from the subordinate's {}",
                describe(superior),
                describe(subordinate)
            ),
        ))
    }
}

fn merge_one_of(
    parameter: &str,
    superior: &[Value],
    subordinate: &[Value],
) -> Result<Vec<Value>, PolicyError> {
    let common = intersection(superior, subordinate);
    if common.is_empty() {
        return Err(conflict(
            parameter,
            "the superior's and the subordinate's `one_of` values have nothing in common",
        ));
    }
    Ok(common)
}

// ---------------------------------------------------------------------------------------------
// Application (§6.1.4.2), one parameter at a time, operators in their specified order.

fn apply_parameter(
    parameter: &str,
    policy: &ParameterPolicy,
    current: Option<Value>,
) -> Result<Option<Value>, PolicyError> {
    let current = current.map(|value| into_operand_form(parameter, value));
    if let Some(Value::Array(items)) = &current {
        check_metadata_array_len(parameter, items)?;
    }
    let current = apply_value(parameter, policy, current);
    let current = apply_add(parameter, policy, current)?;
    let current = apply_default(parameter, policy, current);
    check_one_of(parameter, policy, current.as_ref())?;
    let current = apply_subset_of(parameter, policy, current)?;
    check_superset_of(parameter, policy, current.as_ref())?;
    check_essential(parameter, policy, current.as_ref())?;
    Ok(current.map(|value| into_metadata_form(parameter, value)))
}

fn apply_value(parameter: &str, policy: &ParameterPolicy, current: Option<Value>) -> Option<Value> {
    match &policy.value {
        Some(Value::Null) => None,
        Some(value) => Some(into_operand_form(parameter, value.clone())),
        None => current,
    }
}

fn apply_add(
    parameter: &str,
    policy: &ParameterPolicy,
    current: Option<Value>,
) -> Result<Option<Value>, PolicyError> {
    let Some(add) = &policy.add else {
        return Ok(current);
    };
    match current {
        None => Ok(Some(Value::Array(union(&[], add)))),
        Some(Value::Array(items)) => Ok(Some(Value::Array(union(&items, add)))),
        Some(other) => Err(not_an_array(parameter, "add", &other)),
    }
}

fn apply_default(
    parameter: &str,
    policy: &ParameterPolicy,
    current: Option<Value>,
) -> Option<Value> {
    current.or_else(|| {
        policy
            .default
            .clone()
            .map(|default| into_operand_form(parameter, default))
    })
}

fn check_one_of(
    parameter: &str,
    policy: &ParameterPolicy,
    current: Option<&Value>,
) -> Result<(), PolicyError> {
    let (Some(one_of), Some(current)) = (&policy.one_of, current) else {
        return Ok(());
    };
    // `one_of` compares the parameter as published, so a `scope` string is compared whole.
    let published = into_metadata_form(parameter, current.clone());
    if contains(one_of, &published) {
        Ok(())
    } else {
        Err(violation(
            parameter,
            format!("{} is not one of the allowed values", describe(&published)),
        ))
    }
}

/// The spec keeps an empty intersection as `[]` rather than removing the parameter, so that a
/// `default` cannot bring back values a superior has just filtered out.
fn apply_subset_of(
    parameter: &str,
    policy: &ParameterPolicy,
    current: Option<Value>,
) -> Result<Option<Value>, PolicyError> {
    let Some(subset_of) = &policy.subset_of else {
        return Ok(current);
    };
    match current {
        None => Ok(None),
        Some(Value::Array(items)) => Ok(Some(Value::Array(intersection(&items, subset_of)))),
        Some(other) => Err(not_an_array(parameter, "subset_of", &other)),
    }
}

fn check_superset_of(
    parameter: &str,
    policy: &ParameterPolicy,
    current: Option<&Value>,
) -> Result<(), PolicyError> {
    let (Some(superset_of), Some(current)) = (&policy.superset_of, current) else {
        return Ok(());
    };
    let Value::Array(items) = current else {
        return Err(not_an_array(parameter, "superset_of", current));
    };
    match superset_of
        .iter()
        .find(|required| !contains(items, required))
    {
        Some(missing) => Err(violation(
            parameter,
            format!("must contain {}", describe(missing)),
        )),
        None => Ok(()),
    }
}

fn check_essential(
    parameter: &str,
    policy: &ParameterPolicy,
    current: Option<&Value>,
) -> Result<(), PolicyError> {
    if policy.is_essential() && current.is_none() {
        return Err(violation(
            parameter,
            "is essential but absent from the metadata",
        ));
    }
    Ok(())
}

fn check_metadata_array_len(parameter: &str, items: &[Value]) -> Result<(), PolicyError> {
    if items.len() > MAX_ARRAY_LEN {
        return Err(malformed(
            parameter,
            format!("the metadata array has more than {MAX_ARRAY_LEN} entries"),
        ));
    }
    Ok(())
}

fn not_an_array(parameter: &str, operator: &str, value: &Value) -> PolicyError {
    violation(
        parameter,
        format!(
            "`{operator}` needs an array, the metadata has {}",
            describe(value)
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// The `scope` parameter: a space-separated string that operators see as an array (§6.1.3.1.8).

/// Turns a `scope` string into the array of its scope values; any other value is kept as is.
fn into_operand_form(parameter: &str, value: Value) -> Value {
    match value {
        Value::String(scopes) if parameter == SCOPE => Value::Array(split_scope(&scopes)),
        other => other,
    }
}

/// Turns a `scope` array of strings back into the space-separated string the metadata carries.
fn into_metadata_form(parameter: &str, value: Value) -> Value {
    if parameter != SCOPE {
        return value;
    }
    match value {
        Value::Array(items) if items.iter().all(Value::is_string) => Value::String(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        other => other,
    }
}

fn split_scope(scopes: &str) -> Vec<Value> {
    scopes
        .split_ascii_whitespace()
        .map(|scope| Value::String(scope.to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// JSON arrays as sets.

/// The values of an array, or of a `scope` string; `None` for anything else.
fn set_members<'a>(parameter: &str, value: &'a Value) -> Option<Cow<'a, [Value]>> {
    match value {
        Value::Array(items) => Some(Cow::Borrowed(items.as_slice())),
        Value::String(scopes) if parameter == SCOPE => Some(Cow::Owned(split_scope(scopes))),
        _ => None,
    }
}

fn contains(set: &[Value], item: &Value) -> bool {
    set.contains(item)
}

fn is_subset(subset: &[Value], superset: &[Value]) -> bool {
    subset.iter().all(|item| contains(superset, item))
}

/// Arrays are equal as sets; anything else must be equal as JSON.
fn same_json(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::Array(left), Value::Array(right)) => {
            is_subset(left, right) && is_subset(right, left)
        }
        _ => left == right,
    }
}

/// `first`'s entries then `second`'s new ones, each once.
fn union(first: &[Value], second: &[Value]) -> Vec<Value> {
    let mut united: Vec<Value> = Vec::with_capacity(first.len() + second.len());
    for item in first.iter().chain(second) {
        if !contains(&united, item) {
            united.push(item.clone());
        }
    }
    united
}

/// `first`'s entries that `second` also holds, in `first`'s order, each once.
fn intersection(first: &[Value], second: &[Value]) -> Vec<Value> {
    let mut common: Vec<Value> = Vec::new();
    for item in first {
        if contains(second, item) && !contains(&common, item) {
            common.push(item.clone());
        }
    }
    common
}

// ---------------------------------------------------------------------------------------------
// Errors.

fn malformed(parameter: &str, reason: impl Into<String>) -> PolicyError {
    PolicyError::Malformed {
        parameter: parameter.to_owned(),
        reason: reason.into(),
    }
}

fn conflict(parameter: &str, reason: impl Into<String>) -> PolicyError {
    PolicyError::Conflict {
        parameter: parameter.to_owned(),
        reason: reason.into(),
    }
}

fn violation(parameter: &str, reason: impl Into<String>) -> PolicyError {
    PolicyError::Violation {
        parameter: parameter.to_owned(),
        reason: reason.into(),
    }
}

/// A value as JSON, cut short so that a huge metadata value cannot flood an error message.
fn describe(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() <= MAX_DESCRIBED_CHARS {
        return text;
    }
    let mut shortened: String = text.chars().take(MAX_DESCRIBED_CHARS).collect();
    shortened.push('…');
    shortened
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn object(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("test fixture is not an object: {other}"),
        }
    }

    fn apply_json(policy: Value, metadata: Value) -> Result<Map<String, Value>, PolicyError> {
        apply(&object(policy), &object(metadata))
    }

    fn merge_json(superior: Value, subordinate: Value) -> Result<Map<String, Value>, PolicyError> {
        merge(&object(superior), &object(subordinate))
    }

    fn error_kind(error: &PolicyError) -> &'static str {
        match error {
            PolicyError::Malformed { .. } => "malformed",
            PolicyError::UnknownOperator { .. } => "unknown operator",
            PolicyError::Conflict { .. } => "conflict",
            PolicyError::Violation { .. } => "violation",
        }
    }

    fn assert_error(result: Result<Map<String, Value>, PolicyError>, kind: &str, parameter: &str) {
        let error = result.unwrap_err();
        assert_eq!(error_kind(&error), kind, "{error}");
        let (PolicyError::Malformed { parameter: got, .. }
        | PolicyError::UnknownOperator { parameter: got, .. }
        | PolicyError::Conflict { parameter: got, .. }
        | PolicyError::Violation { parameter: got, .. }) = &error;
        assert_eq!(got, parameter, "{error}");
    }

    // --- Each operator applied alone ---------------------------------------------------------

    #[test]
    fn value_replaces_the_parameter() {
        let resolved = apply_json(
            json!({"subject_type": {"value": "pairwise"}}),
            json!({"subject_type": "public", "client_name": "RP"}),
        )
        .unwrap();
        assert_eq!(
            Value::Object(resolved),
            json!({"subject_type": "pairwise", "client_name": "RP"})
        );
    }

    #[test]
    fn value_sets_an_absent_parameter() {
        let resolved =
            apply_json(json!({"subject_type": {"value": "pairwise"}}), json!({})).unwrap();
        assert_eq!(Value::Object(resolved), json!({"subject_type": "pairwise"}));
    }

    #[test]
    fn value_null_removes_the_parameter() {
        let resolved = apply_json(
            json!({"jwks_uri": {"value": null}}),
            json!({"jwks_uri": "https://rp.example.org/jwks", "client_name": "RP"}),
        )
        .unwrap();
        assert_eq!(Value::Object(resolved), json!({"client_name": "RP"}));
    }

    #[test]
    fn add_appends_missing_values_only() {
        let resolved = apply_json(
            json!({"contacts": {"add": ["ops@fed.example", "admin@rp.example"]}}),
            json!({"contacts": ["admin@rp.example"]}),
        )
        .unwrap();
        assert_eq!(
            resolved["contacts"],
            json!(["admin@rp.example", "ops@fed.example"])
        );
    }

    #[test]
    fn add_creates_an_absent_parameter() {
        let resolved =
            apply_json(json!({"contacts": {"add": ["ops@fed.example"]}}), json!({})).unwrap();
        assert_eq!(resolved["contacts"], json!(["ops@fed.example"]));
    }

    #[test]
    fn add_to_a_non_array_is_a_violation() {
        let result = apply_json(
            json!({"contacts": {"add": ["ops@fed.example"]}}),
            json!({"contacts": "admin@rp.example"}),
        );
        assert_error(result, "violation", "contacts");
    }

    #[test]
    fn default_fills_an_absent_parameter() {
        let resolved = apply_json(
            json!({"grant_types": {"default": ["authorization_code"]}}),
            json!({}),
        )
        .unwrap();
        assert_eq!(resolved["grant_types"], json!(["authorization_code"]));
    }

    #[test]
    fn default_does_not_override_a_present_parameter() {
        let resolved = apply_json(
            json!({"grant_types": {"default": ["authorization_code"]}}),
            json!({"grant_types": ["refresh_token"]}),
        )
        .unwrap();
        assert_eq!(resolved["grant_types"], json!(["refresh_token"]));
    }

    #[test]
    fn an_empty_one_of_is_malformed() {
        let empty = json!({"token_endpoint_auth_method": {"one_of": []}});
        let empty = empty.as_object().unwrap();
        assert!(matches!(
            merge(&Map::new(), empty),
            Err(PolicyError::Malformed { .. })
        ));
        assert!(matches!(
            apply(empty, &Map::new()),
            Err(PolicyError::Malformed { .. })
        ));
    }

    #[test]
    fn one_of_accepts_a_listed_value() {
        let resolved = apply_json(
            json!({"token_endpoint_auth_method": {"one_of": ["private_key_jwt", "tls_client_auth"]}}),
            json!({"token_endpoint_auth_method": "private_key_jwt"}),
        )
        .unwrap();
        assert_eq!(
            resolved["token_endpoint_auth_method"],
            json!("private_key_jwt")
        );
    }

    #[test]
    fn one_of_rejects_an_unlisted_value() {
        let result = apply_json(
            json!({"token_endpoint_auth_method": {"one_of": ["private_key_jwt"]}}),
            json!({"token_endpoint_auth_method": "client_secret_basic"}),
        );
        assert_error(result, "violation", "token_endpoint_auth_method");
    }

    #[test]
    fn one_of_ignores_an_absent_parameter() {
        let resolved = apply_json(
            json!({"token_endpoint_auth_method": {"one_of": ["private_key_jwt"]}}),
            json!({}),
        )
        .unwrap();
        assert!(resolved.is_empty());
    }

    #[test]
    fn subset_of_keeps_the_intersection() {
        let resolved = apply_json(
            json!({"grant_types": {"subset_of": ["authorization_code", "refresh_token"]}}),
            json!({"grant_types": ["implicit", "refresh_token", "authorization_code"]}),
        )
        .unwrap();
        assert_eq!(
            resolved["grant_types"],
            json!(["refresh_token", "authorization_code"])
        );
    }

    #[test]
    fn subset_of_with_an_empty_intersection_leaves_an_empty_array() {
        // Draft 42 onwards: the parameter becomes [] rather than being removed.
        let resolved = apply_json(
            json!({"grant_types": {"subset_of": ["authorization_code"]}}),
            json!({"grant_types": ["implicit"]}),
        )
        .unwrap();
        assert_eq!(resolved["grant_types"], json!([]));
    }

    #[test]
    fn subset_of_ignores_an_absent_parameter() {
        let resolved = apply_json(
            json!({"grant_types": {"subset_of": ["authorization_code"]}}),
            json!({}),
        )
        .unwrap();
        assert!(!resolved.contains_key("grant_types"));
    }

    #[test]
    fn subset_of_a_non_array_is_a_violation() {
        let result = apply_json(
            json!({"grant_types": {"subset_of": ["authorization_code"]}}),
            json!({"grant_types": "authorization_code"}),
        );
        assert_error(result, "violation", "grant_types");
    }

    #[test]
    fn superset_of_accepts_a_superset() {
        let resolved = apply_json(
            json!({"grant_types": {"superset_of": ["authorization_code"]}}),
            json!({"grant_types": ["refresh_token", "authorization_code"]}),
        )
        .unwrap();
        assert_eq!(
            resolved["grant_types"],
            json!(["refresh_token", "authorization_code"])
        );
    }

    #[test]
    fn superset_of_rejects_a_missing_value() {
        let result = apply_json(
            json!({"grant_types": {"superset_of": ["authorization_code"]}}),
            json!({"grant_types": ["refresh_token"]}),
        );
        assert_error(result, "violation", "grant_types");
    }

    #[test]
    fn superset_of_ignores_an_absent_parameter() {
        let resolved = apply_json(
            json!({"grant_types": {"superset_of": ["authorization_code"]}}),
            json!({}),
        )
        .unwrap();
        assert!(resolved.is_empty());
    }

    #[test]
    fn essential_rejects_a_missing_parameter() {
        let result = apply_json(json!({"jwks_uri": {"essential": true}}), json!({}));
        assert_error(result, "violation", "jwks_uri");
    }

    #[test]
    fn essential_treats_null_as_missing() {
        let result = apply_json(
            json!({"jwks_uri": {"essential": true}}),
            json!({"jwks_uri": null}),
        );
        assert_error(result, "violation", "jwks_uri");
    }

    #[test]
    fn essential_accepts_a_present_parameter_and_false_accepts_absence() {
        let present = apply_json(
            json!({"jwks_uri": {"essential": true}}),
            json!({"jwks_uri": "https://rp.example.org/jwks"}),
        )
        .unwrap();
        assert_eq!(present["jwks_uri"], json!("https://rp.example.org/jwks"));
        let absent = apply_json(json!({"jwks_uri": {"essential": false}}), json!({})).unwrap();
        assert!(absent.is_empty());
    }

    #[test]
    fn parameters_without_a_policy_pass_through() {
        let metadata = json!({
            "client_name": "RP",
            "redirect_uris": ["https://rp.example.org/cb"],
            "jwks": {"keys": []},
            "odd": null
        });
        let resolved =
            apply_json(json!({"subject_type": {"value": "pairwise"}}), metadata).unwrap();
        assert_eq!(resolved["client_name"], json!("RP"));
        assert_eq!(
            resolved["redirect_uris"],
            json!(["https://rp.example.org/cb"])
        );
        assert_eq!(resolved["jwks"], json!({"keys": []}));
        assert_eq!(resolved["odd"], Value::Null);
    }

    #[test]
    fn essential_subset_of_table_of_the_spec() {
        // The table "Examples of Outputs with Combinations of essential and subset_of".
        let cases = [
            (true, json!(["a", "e"]), Some(json!(["a"]))),
            (false, json!(["a", "e"]), Some(json!(["a"]))),
            (true, json!(["d", "e"]), Some(json!([]))),
            (false, json!(["d", "e"]), Some(json!([]))),
        ];
        for (essential, input, output) in cases {
            let resolved = apply_json(
                json!({"p": {"essential": essential, "subset_of": ["a", "b", "c"]}}),
                json!({ "p": input }),
            )
            .unwrap();
            assert_eq!(resolved.get("p").cloned(), output);
        }
        assert_error(
            apply_json(
                json!({"p": {"essential": true, "subset_of": ["a", "b", "c"]}}),
                json!({}),
            ),
            "violation",
            "p",
        );
        let absent = apply_json(
            json!({"p": {"essential": false, "subset_of": ["a", "b", "c"]}}),
            json!({}),
        )
        .unwrap();
        assert!(!absent.contains_key("p"));
    }

    #[test]
    fn operators_apply_in_the_specified_order() {
        // value, then add, then subset_of (which sees both), then superset_of.
        let resolved = apply_json(
            json!({"p": {
                "value": ["a", "b"],
                "add": ["b"],
                "subset_of": ["a", "b", "c"],
                "superset_of": ["a"],
                "essential": true
            }}),
            json!({"p": ["x"]}),
        )
        .unwrap();
        assert_eq!(resolved["p"], json!(["a", "b"]));
    }

    #[test]
    fn default_is_checked_by_one_of() {
        let result = apply_json(
            json!({"alg": {"default": "RS256", "one_of": ["ES256"]}}),
            json!({}),
        );
        assert_error(result, "violation", "alg");
    }

    #[test]
    fn scope_is_handled_as_a_set_of_scope_values() {
        let resolved = apply_json(
            json!({"scope": {"subset_of": ["openid", "email"], "superset_of": ["openid"]}}),
            json!({"scope": "openid  profile email"}),
        )
        .unwrap();
        assert_eq!(resolved["scope"], json!("openid email"));
        let added = apply_json(json!({"scope": {"add": ["openid"]}}), json!({})).unwrap();
        assert_eq!(added["scope"], json!("openid"));
        let defaulted =
            apply_json(json!({"scope": {"default": "openid email"}}), json!({})).unwrap();
        assert_eq!(defaulted["scope"], json!("openid email"));
    }

    // --- Merging each operator ---------------------------------------------------------------

    #[test]
    fn merge_value_keeps_equal_values() {
        let merged = merge_json(
            json!({"subject_type": {"value": "pairwise"}}),
            json!({"subject_type": {"value": "pairwise"}}),
        )
        .unwrap();
        assert_eq!(merged["subject_type"], json!({"value": "pairwise"}));
    }

    #[test]
    fn merge_value_compares_arrays_as_sets() {
        let merged = merge_json(
            json!({"p": {"value": ["a", "b"]}}),
            json!({"p": {"value": ["b", "a"]}}),
        )
        .unwrap();
        assert_eq!(merged["p"], json!({"value": ["a", "b"]}));
    }

    #[test]
    fn merge_value_conflict_is_an_error() {
        let result = merge_json(
            json!({"subject_type": {"value": "pairwise"}}),
            json!({"subject_type": {"value": "public"}}),
        );
        assert_error(result, "conflict", "subject_type");
    }

    #[test]
    fn merge_add_is_the_union() {
        let merged = merge_json(
            json!({"contacts": {"add": ["a@x", "b@x"]}}),
            json!({"contacts": {"add": ["b@x", "c@x"]}}),
        )
        .unwrap();
        assert_eq!(merged["contacts"], json!({"add": ["a@x", "b@x", "c@x"]}));
    }

    #[test]
    fn merge_default_requires_equal_values() {
        let merged = merge_json(
            json!({"alg": {"default": "ES256"}}),
            json!({"alg": {"default": "ES256"}}),
        )
        .unwrap();
        assert_eq!(merged["alg"], json!({"default": "ES256"}));
        let result = merge_json(
            json!({"alg": {"default": "ES256"}}),
            json!({"alg": {"default": "PS256"}}),
        );
        assert_error(result, "conflict", "alg");
    }

    #[test]
    fn merge_one_of_is_the_intersection() {
        let merged = merge_json(
            json!({"alg": {"one_of": ["ES256", "PS256", "RS256"]}}),
            json!({"alg": {"one_of": ["RS256", "ES256"]}}),
        )
        .unwrap();
        assert_eq!(merged["alg"], json!({"one_of": ["ES256", "RS256"]}));
    }

    #[test]
    fn merge_one_of_with_an_empty_intersection_is_an_error() {
        let result = merge_json(
            json!({"alg": {"one_of": ["ES256"]}}),
            json!({"alg": {"one_of": ["RS256"]}}),
        );
        assert_error(result, "conflict", "alg");
    }

    #[test]
    fn merge_subset_of_is_the_intersection_even_when_empty() {
        let merged = merge_json(
            json!({"grant_types": {"subset_of": ["authorization_code", "refresh_token"]}}),
            json!({"grant_types": {"subset_of": ["refresh_token", "implicit"]}}),
        )
        .unwrap();
        assert_eq!(
            merged["grant_types"],
            json!({"subset_of": ["refresh_token"]})
        );
        let empty = merge_json(
            json!({"grant_types": {"subset_of": ["authorization_code"]}}),
            json!({"grant_types": {"subset_of": ["implicit"]}}),
        )
        .unwrap();
        assert_eq!(empty["grant_types"], json!({"subset_of": []}));
    }

    #[test]
    fn merge_superset_of_is_the_union() {
        let merged = merge_json(
            json!({"grant_types": {"superset_of": ["authorization_code"]}}),
            json!({"grant_types": {"superset_of": ["refresh_token"]}}),
        )
        .unwrap();
        assert_eq!(
            merged["grant_types"],
            json!({"superset_of": ["authorization_code", "refresh_token"]})
        );
    }

    #[test]
    fn merge_essential_is_a_logical_or() {
        let cases = [
            (json!(true), json!(false), true),
            (json!(false), json!(true), true),
            (json!(false), json!(false), false),
            (json!(true), json!(true), true),
        ];
        for (upper, lower, expected) in cases {
            let merged = merge_json(
                json!({"p": {"essential": upper}}),
                json!({"p": {"essential": lower}}),
            )
            .unwrap();
            assert_eq!(merged["p"], json!({ "essential": expected }));
        }
    }

    #[test]
    fn merge_copies_operators_and_parameters_present_on_one_side() {
        let merged = merge_json(
            json!({"a": {"essential": true}, "b": {"value": "x"}}),
            json!({"a": {"one_of": ["y"]}, "c": {"default": "z"}}),
        )
        .unwrap();
        assert_eq!(
            Value::Object(merged),
            json!({
                "a": {"one_of": ["y"], "essential": true},
                "b": {"value": "x"},
                "c": {"default": "z"}
            })
        );
    }

    #[test]
    fn merge_rejects_a_merged_policy_whose_combination_fails() {
        // Each side is fine alone; together `value` falls outside `one_of`.
        let result = merge_json(
            json!({"alg": {"one_of": ["ES256", "PS256"]}}),
            json!({"alg": {"value": "RS256"}}),
        );
        assert_error(result, "conflict", "alg");
        // Together `add` escapes the superior's `subset_of`.
        let result = merge_json(
            json!({"contacts": {"subset_of": ["a@x"]}}),
            json!({"contacts": {"add": ["b@x"]}}),
        );
        assert_error(result, "conflict", "contacts");
    }

    #[test]
    fn merge_chain_merges_top_down() {
        let anchor = object(json!({"alg": {"one_of": ["ES256", "PS256", "RS256"]}}));
        let intermediate = object(json!({"alg": {"one_of": ["ES256", "PS256"]}}));
        let organisation = object(json!({"alg": {"one_of": ["PS256"]}, "x": {"essential": true}}));
        let merged = merge_chain(&[&anchor, &intermediate, &organisation]).unwrap();
        assert_eq!(
            Value::Object(merged),
            json!({"alg": {"one_of": ["PS256"]}, "x": {"essential": true}})
        );
    }

    #[test]
    fn merge_chain_of_nothing_or_one_policy() {
        assert!(merge_chain(&[]).unwrap().is_empty());
        let single = object(json!({"alg": {"default": "ES256"}}));
        assert_eq!(merge_chain(&[&single]).unwrap(), single);
        let broken = object(json!({"alg": {"frobnicate": 1}}));
        assert_error(merge_chain(&[&broken]), "unknown operator", "alg");
    }

    // --- Combinations within one parameter policy --------------------------------------------

    #[test]
    fn one_of_cannot_be_combined_with_array_operators() {
        for operator in ["add", "subset_of", "superset_of"] {
            let mut operators = Map::new();
            operators.insert("one_of".to_owned(), json!(["a"]));
            operators.insert(operator.to_owned(), json!(["a"]));
            let mut policy = Map::new();
            policy.insert("p".to_owned(), Value::Object(operators));
            assert_error(apply(&policy, &Map::new()), "conflict", "p");
        }
    }

    #[test]
    fn allowed_combinations_are_accepted() {
        let policy = json!({
            "a": {"value": ["x", "y"], "add": ["x"], "subset_of": ["x", "y", "z"],
                  "superset_of": ["y"], "default": ["x"], "essential": true},
            "b": {"one_of": ["x"], "default": "y", "essential": false},
            "c": {"add": ["x"], "superset_of": ["y"], "default": ["z"]},
            "d": {"value": "x", "one_of": ["x", "y"]},
            "e": {"value": null, "subset_of": ["x"], "essential": false}
        });
        assert!(merge_json(policy, json!({})).is_ok());
    }

    #[test]
    fn value_combinations_must_hold() {
        let cases = [
            json!({"value": ["a", "b"], "add": ["c"]}),
            json!({"value": null, "default": "a"}),
            json!({"value": null, "essential": true}),
            json!({"value": "c", "one_of": ["a", "b"]}),
            json!({"value": ["a", "c"], "subset_of": ["a", "b"]}),
            json!({"value": ["a"], "superset_of": ["a", "b"]}),
            json!({"value": "a", "subset_of": ["a"]}),
            json!({"value": null, "add": ["a"]}),
        ];
        for operators in cases {
            let result = merge_json(json!({ "p": operators.clone() }), json!({}));
            assert_error(result, "conflict", "p");
        }
    }

    #[test]
    fn add_must_stay_within_subset_of() {
        let result = merge_json(
            json!({"p": {"add": ["a", "c"], "subset_of": ["a", "b"]}}),
            json!({}),
        );
        assert_error(result, "conflict", "p");
    }

    #[test]
    fn superset_of_must_stay_within_subset_of() {
        let result = merge_json(
            json!({"p": {"superset_of": ["a", "c"], "subset_of": ["a", "b"]}}),
            json!({}),
        );
        assert_error(result, "conflict", "p");
        // Equal arrays express "set equals", which the spec explicitly allows.
        assert!(
            merge_json(
                json!({"p": {"superset_of": ["a", "b"], "subset_of": ["b", "a"]}}),
                json!({})
            )
            .is_ok()
        );
    }

    #[test]
    fn apply_checks_combinations_of_an_unmerged_policy() {
        let result = apply_json(
            json!({"p": {"value": "c", "one_of": ["a", "b"]}}),
            json!({"p": "a"}),
        );
        assert_error(result, "conflict", "p");
    }

    // --- The worked example of the spec (§6.1.5) ---------------------------------------------

    #[test]
    fn spec_example_trust_anchor_and_intermediate() {
        let anchor = object(json!({
            "grant_types": {
                "default": ["authorization_code"],
                "subset_of": ["authorization_code", "refresh_token"],
                "superset_of": ["authorization_code"]
            },
            "token_endpoint_auth_method": {
                "one_of": ["private_key_jwt", "self_signed_tls_client_auth"],
                "essential": true
            },
            "token_endpoint_auth_signing_alg": {"one_of": ["PS256", "ES256"]},
            "subject_type": {"value": "pairwise"},
            "contacts": {"add": ["helpdesk@federation.example.org"]}
        }));
        let intermediate = object(json!({
            "grant_types": {"subset_of": ["authorization_code"]},
            "token_endpoint_auth_method": {"one_of": ["self_signed_tls_client_auth"]},
            "contacts": {"add": ["helpdesk@org.example.org"]}
        }));
        let merged = merge_chain(&[&anchor, &intermediate]).unwrap();
        assert_eq!(
            Value::Object(merged.clone()),
            json!({
                "grant_types": {
                    "default": ["authorization_code"],
                    "superset_of": ["authorization_code"],
                    "subset_of": ["authorization_code"]
                },
                "token_endpoint_auth_method": {
                    "one_of": ["self_signed_tls_client_auth"],
                    "essential": true
                },
                "token_endpoint_auth_signing_alg": {"one_of": ["PS256", "ES256"]},
                "subject_type": {"value": "pairwise"},
                "contacts": {"add": [
                    "helpdesk@federation.example.org",
                    "helpdesk@org.example.org"
                ]}
            })
        );

        // The leaf's metadata with the intermediate's `metadata` values already applied.
        let metadata = object(json!({
            "redirect_uris": ["https://rp.example.org/callback"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "self_signed_tls_client_auth",
            "contacts": ["rp_admins@rp.example.org"],
            "sector_identifier_uri": "https://org.example.org/sector-ids.json",
            "policy_uri": "https://org.example.org/policy.html"
        }));
        let resolved = apply(&merged, &metadata).unwrap();
        assert_eq!(
            Value::Object(resolved.clone()),
            json!({
                "redirect_uris": ["https://rp.example.org/callback"],
                "grant_types": ["authorization_code"],
                "response_types": ["code"],
                "token_endpoint_auth_method": "self_signed_tls_client_auth",
                "subject_type": "pairwise",
                "sector_identifier_uri": "https://org.example.org/sector-ids.json",
                "policy_uri": "https://org.example.org/policy.html",
                "contacts": [
                    "rp_admins@rp.example.org",
                    "helpdesk@federation.example.org",
                    "helpdesk@org.example.org"
                ]
            })
        );
        assert_eq!(
            resolved["contacts"],
            json!([
                "rp_admins@rp.example.org",
                "helpdesk@federation.example.org",
                "helpdesk@org.example.org"
            ])
        );

        // The same RP with a client authentication method the intermediate has ruled out.
        let mut secret_client = metadata;
        secret_client.insert(
            "token_endpoint_auth_method".to_owned(),
            json!("private_key_jwt"),
        );
        assert_error(
            apply(&merged, &secret_client),
            "violation",
            "token_endpoint_auth_method",
        );
    }

    // --- Malformed policies, unknown operators, bounds ---------------------------------------

    #[test]
    fn unknown_operator_is_an_error() {
        let result = merge_json(json!({"p": {"regexp": "^https://"}}), json!({}));
        assert_eq!(
            result.unwrap_err(),
            PolicyError::UnknownOperator {
                parameter: "p".to_owned(),
                operator: "regexp".to_owned()
            }
        );
        let in_subordinate = merge_json(json!({}), json!({"p": {"intersects": ["a"]}}));
        assert_error(in_subordinate, "unknown operator", "p");
        let on_apply = apply_json(json!({"p": {"Value": "a"}}), json!({}));
        assert_error(on_apply, "unknown operator", "p");
    }

    #[test]
    fn operands_of_the_wrong_type_are_malformed() {
        let cases = [
            json!({"p": "not an object"}),
            json!({"p": {"add": "a"}}),
            json!({"p": {"add": [null]}}),
            json!({"p": {"add": [["nested"]]}}),
            json!({"p": {"subset_of": {"a": 1}}}),
            json!({"p": {"superset_of": 3}}),
            json!({"p": {"one_of": "a"}}),
            json!({"p": {"one_of": [{"a": 1}]}}),
            json!({"p": {"one_of": [["a"]]}}),
            json!({"p": {"essential": "true"}}),
            json!({"p": {"essential": null}}),
            json!({"p": {"default": null}}),
        ];
        for policy in cases {
            assert_error(merge_json(policy.clone(), json!({})), "malformed", "p");
            assert_error(merge_json(json!({}), policy.clone()), "malformed", "p");
            assert_error(apply_json(policy, json!({})), "malformed", "p");
        }
    }

    #[test]
    fn too_many_parameters_are_malformed() {
        let policy: Map<String, Value> = (0..=MAX_PARAMETERS)
            .map(|index| (format!("p{index}"), json!({"essential": false})))
            .collect();
        assert_error(apply(&policy, &Map::new()), "malformed", WHOLE_POLICY);
        let at_limit: Map<String, Value> = policy.clone().into_iter().skip(1).collect();
        assert!(apply(&at_limit, &Map::new()).is_ok());
    }

    #[test]
    fn a_merge_over_the_parameter_limit_is_malformed() {
        let half = MAX_PARAMETERS / 2 + 1;
        let upper: Map<String, Value> = (0..half)
            .map(|index| (format!("a{index}"), json!({})))
            .collect();
        let lower: Map<String, Value> = (0..half)
            .map(|index| (format!("b{index}"), json!({})))
            .collect();
        assert_error(merge(&upper, &lower), "malformed", WHOLE_POLICY);
    }

    #[test]
    fn oversized_arrays_are_malformed() {
        let big: Vec<Value> = (0..=MAX_ARRAY_LEN)
            .map(|index| json!(format!("v{index}")))
            .collect();
        for operator in [
            "value",
            "add",
            "default",
            "one_of",
            "subset_of",
            "superset_of",
        ] {
            let mut operators = Map::new();
            operators.insert(operator.to_owned(), Value::Array(big.clone()));
            let mut policy = Map::new();
            policy.insert("p".to_owned(), Value::Object(operators));
            assert_error(apply(&policy, &Map::new()), "malformed", "p");
        }
        let fits: Vec<Value> = big[..MAX_ARRAY_LEN].to_vec();
        assert!(apply_json(json!({"p": {"add": fits}}), json!({})).is_ok());
    }

    #[test]
    fn a_merged_union_over_the_array_limit_is_malformed() {
        let upper: Vec<Value> = (0..MAX_ARRAY_LEN)
            .map(|index| json!(format!("a{index}")))
            .collect();
        let result = merge_json(
            json!({"p": {"add": upper}}),
            json!({"p": {"add": ["extra"]}}),
        );
        assert_error(result, "malformed", "p");
    }

    #[test]
    fn oversized_metadata_arrays_are_refused() {
        let big: Vec<Value> = (0..=MAX_ARRAY_LEN)
            .map(|index| json!(format!("v{index}")))
            .collect();
        let result = apply_json(json!({"p": {"subset_of": ["v1"]}}), json!({"p": big}));
        assert_error(result, "malformed", "p");
        let scopes = vec!["s"; MAX_ARRAY_LEN + 1].join(" ");
        let result = apply_json(
            json!({"scope": {"superset_of": ["s"]}}),
            json!({"scope": scopes}),
        );
        assert_error(result, "malformed", "scope");
    }

    #[test]
    fn error_messages_are_readable_and_short() {
        let error = apply_json(
            json!({"token_endpoint_auth_method": {"one_of": ["private_key_jwt"]}}),
            json!({"token_endpoint_auth_method": "x".repeat(10_000)}),
        )
        .unwrap_err();
        let message = error.to_string();
        assert!(message.starts_with(
            "metadata parameter `token_endpoint_auth_method` violates the federation policy:"
        ));
        assert!(message.len() < 300, "{message}");
    }
}
