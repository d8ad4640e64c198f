import json

import pytest

from infobip.contract import filters
from infobip.contract.filters import And, Condition, FieldKind, FilterError, Op, Or, evaluate, parse_company_filter
from infobip.contract.filters import parse_person_filter as parse

JANE = {
    "id": 7,
    "firstName": "Jane",
    "lastName": "Smith",
    "gender": "FEMALE",
    "birthDate": "1966-01-15",
    "createdAt": "2024-03-01T10:20:30",
    "type": "CUSTOMER",
    "tags": ["VIP Client", "Newsletter"],
    "customAttributes": {"Company": "Acme", "Score": 42, "Active": True, "Contract Expiry": "2025-06-01"},
}


def test_equality_shorthand_builds_an_eq_condition():
    node = parse('{"firstName": "Alex"}')
    assert node == Condition(Op.EQ, "firstName", "Alex", FieldKind.STRING, '$["firstName"]')


def test_spec_example_parses_to_and_of_eq_and_tag_contains():
    node = parse({"#and": [{"firstName": "Alex"}, {"#contains": {"tags": "VIP Client"}}]})
    assert isinstance(node, And)
    assert [c.op for c in node.clauses] == [Op.EQ, Op.CONTAINS]
    assert node.clauses[1].kind == FieldKind.LIST


def test_several_keys_in_one_object_are_anded():
    node = parse({"firstName": "Jane", "lastName": "Smith"})
    assert isinstance(node, And)
    assert len(node.clauses) == 2
    assert evaluate(node, JANE)
    assert not evaluate(parse({"firstName": "Jane", "lastName": "Doe"}), JANE)


@pytest.mark.parametrize(
    ("filter_", "expected"),
    [
        ({"firstName": "Jane"}, True),
        ({"firstName": "jane"}, False),  # #eq is exact
        ({"#eq": {"firstName": "Jane"}}, True),
        ({"#ne": {"firstName": "Jane"}}, False),
        ({"#ne": {"middleName": "X"}}, True),  # missing field: #ne matches
        ({"#contains": {"lastName": "MIT"}}, True),  # text operators ignore case
        ({"#notContain": {"lastName": "mit"}}, False),
        ({"#notContain": {"city": "x"}}, True),
        ({"#startsWith": {"firstName": "ja"}}, True),
        ({"#endsWith": {"firstName": "NE"}}, True),
        ({"#endsWith": {"firstName": "x"}}, False),
        ({"#gt": {"birthDate": "1966-01-14"}}, True),
        ({"#gte": {"birthDate": "1966-01-15"}}, True),
        ({"#lt": {"birthDate": "1966-01-15"}}, False),
        ({"#lte": {"birthDate": "1966-01-15"}}, True),
        ({"#gt": {"id": 6}}, True),
        ({"#lt": {"id": 6}}, False),
        ({"#eq": {"createdAt": "2024-03-01"}}, True),  # a date against a timestamp compares the day
        ({"#gt": {"createdAt": "2024-03-01T10:20:29"}}, True),
        ({"#lt": {"createdAt": "2024-03-01"}}, False),
        ({"#contains": {"tags": "VIP Client"}}, True),
        ({"#contains": {"tags": "VIP"}}, False),  # tags: exact name, not substring
        ({"#notContain": {"tags": "Blocked"}}, True),
        ({"gender": "FEMALE"}, True),
        ({"customAttributes.Company": "Acme"}, True),
        ({"#gt": {"customAttributes.Score": 40}}, True),
        ({"#lte": {"customAttributes.Score": 41.5}}, False),
        ({"customAttributes.Active": True}, True),
        ({"#gte": {"customAttributes.Contract Expiry": "2025-01-01"}}, True),
        ({"#contains": {"customAttributes.Company": "cm"}}, True),
        ({"data\u0001Company": "Acme"}, True),  # segment-style custom attribute key
        ({"#gt": {"customAttributes.Missing": 1}}, False),
    ],
)
def test_each_operator_evaluates(filter_, expected):
    assert evaluate(parse(filter_), JANE) is expected


def test_nesting_of_and_and_or():
    node = parse(
        {
            "#or": [
                {"#and": [{"firstName": "Alex"}, {"lastName": "Smith"}]},
                {"#and": [{"gender": "FEMALE"}, {"#gt": {"id": 5}}]},
            ]
        }
    )
    assert isinstance(node, Or)
    assert evaluate(node, JANE)
    assert not evaluate(node, {**JANE, "id": 1})


def test_custom_attribute_condition_names_its_attribute():
    node = parse({"data\u0001Contract Expiry": "2025-06-01"})
    assert node.field == "customAttributes.Contract Expiry"
    assert node.custom_attribute == "Contract Expiry"
    assert parse({"firstName": "A"}).custom_attribute is None


def test_companies_have_no_not_contain_and_know_domains():
    with pytest.raises(FilterError, match="not supported here"):
        parse_company_filter({"#notContain": {"notes": "x"}})
    node = parse_company_filter({"#or": [{"name": "infobip"}, {"#contains": {"domains": "infobip.com"}}]})
    assert evaluate(node, {"name": "other", "domains": ["infobip.com"]})


@pytest.mark.parametrize(
    ("filter_", "message", "path"),
    [
        ('{"firstName": ', "malformed JSON: Expecting value at line 1 column 15 (char 14)", "$"),
        ("[1]", "a filter clause must be a JSON object, got array", "$"),
        ("{}", "empty filter clause {}", "$"),
        ({"#and": []}, "#and needs at least one clause, got an empty array", '$["#and"]'),
        ({"#or": {"a": 1}}, "#or takes an array of clauses, got object", '$["#or"]'),
        ({"#and": [{"firstName": "A"}, 3]}, "a filter clause must be a JSON object, got number", '$["#and"][1]'),
        ({"#like": {"firstName": "A"}}, "unknown operator '#like'", '$["#like"]'),
        ({"#eq": "Alex"}, 'takes an object {"<field>": <value>}, got string', '$["#eq"]'),
        ({"#eq": {}}, "#eq needs at least one field, got an empty object", '$["#eq"]'),
        ({"nickname": "A"}, "unknown field 'nickname'; known fields:", '$["nickname"]'),
        ({"firstName": 5}, "'firstName' needs a string, got number 5", '$["firstName"]'),
        ({"firstName": None}, "'firstName' needs a string, got null", '$["firstName"]'),
        (
            {"#gt": {"firstName": "A"}},
            "operator #gt cannot be used on string field 'firstName'",
            '$["#gt"]["firstName"]',
        ),
        ({"#gt": {"id": "5"}}, "#gt on 'id' needs a number, got string", '$["#gt"]["id"]'),
        ({"birthDate": "15.01.1966"}, "needs a date string YYYY-MM-DD", '$["birthDate"]'),
        ({"#lt": {"createdAt": "yesterday"}}, "needs a date YYYY-MM-DD or timestamp", '$["#lt"]["createdAt"]'),
        ({"gender": "OTHER"}, "needs one of FEMALE, MALE, got string", '$["gender"]'),
        (
            {"tags": "VIP"},
            """{"tags": "VIP"} cannot match list field 'tags' as a whole; use #contains, #notContain, """
            """e.g. {"#contains": {"tags": "VIP"}}""",
            '$["tags"]',
        ),
        ({"#contains": {"customAttributes.Score": 3}}, "needs a string, got number 3", None),
        ({"#gt": {"customAttributes.Active": True}}, "needs a number or date string, got boolean", None),
        ({"customAttributes.X": [1]}, "needs a string, number or boolean, got array", None),
        ({"customAttributes.": "x"}, "custom attribute name missing", None),
        (
            {"#or": [{"#and": [{"#eq": {"city": 1}}]}]},
            "#eq on 'city' needs a string",
            '$["#or"][0]["#and"][0]["#eq"]["city"]',
        ),
    ],
)
def test_error_messages_say_what_and_where(filter_, message, path):
    with pytest.raises(FilterError) as info:
        parse(filter_)
    assert message in info.value.message
    if path is not None:
        assert info.value.path == path
        assert str(info.value).endswith(f"(at {path})")


def test_filter_error_is_a_value_error_and_custom_attributes_can_be_disabled():
    with pytest.raises(ValueError, match=r"unknown field 'customAttributes.X'"):
        filters.parse({"customAttributes.X": "a"}, filters.PERSON_FIELDS, custom_attributes=False)


def test_bytes_input_and_compiled_predicate():
    predicate = filters.compile_filter(parse(json.dumps({"#startsWith": {"lastName": "Sm"}}).encode()))
    assert [predicate(r) for r in ({"lastName": "Smith"}, {"lastName": "Doe"}, {})] == [True, False, False]
