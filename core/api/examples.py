"""The worked examples of the source documents (seed 000: Orangepill's "Persons and Companies"), with the
braces and keys that the text extraction lost put back. They are the request/response examples of the OpenAPI
document and the literal bodies of the API tests.

Reconstructed where the seed lost text: the person's `tags`, `customAttributes` (with the LIST_OF_OBJECTS
`ShoppingCartList`) and `contactInformation` keys; the scrubbed email address (`jane.smith@example.com`); and
the `systemData`/`additionalData` objects of the read-only channel profiles.
"""

from __future__ import annotations

import copy

IDENTITY_ID = "634b56217f6a7b0be52dffbd"
OWNER = "6be52d34b56217fffbd6a7b0"
CREATED_AT_MS = "1519211809934"
COMPANY_CREATED = "2023-03-04T19:16:41"

JANE = {
    "firstName": "Jane",
    "lastName": "Smith",
    "address": "67 Farringdon Road",
    "city": "London",
    "country": "United Kingdom",
    "gender": "FEMALE",
    "birthDate": "1966-01-15",
    "middleName": "Janie",
    "profilePicture": "",
}

SHOPPING_CART = [
    {
        "productName": "Sneakers",
        "productPrice": 25.33,
        "productCategory": "Sport Sneakers",
        "productImage": "/image1.png",
    },
    {"productName": "T-Shirt", "productPrice": 9.99, "productCategory": "Casual", "productImage": "/image2.png"},
]

CONTACT_INFORMATION = {
    "phone": [{"number": "41793026727"}],
    "email": [{"address": "jane.smith@example.com"}],
    "push": [
        {
            "applicationId": "FDCC8516470A3AE97FB8AC218D5D0D3D",
            "registrationId": "c5db0c47-465c-4e1c-abf8-7cedc275dd19",
            "additionalData": {
                "birthdate": "1988-07-31",
                "email": "",
                "firstName": "Jane",
                "gender": "F",
                "lastName": "Smith",
                "middleName": "Janie",
            },
            "systemData": {
                "cloudType": "GCM",
                "registrationEnabled": True,
                "sdkName": "MobileMessaging SDK",
                "os": "Android",
            },
        }
    ],
    "facebook": [
        {
            "applicationId": "370329180020364",
            "userId": "2094832040560427",
            "systemData": {"gender": "female", "lastName": "Smith", "firstName": "Jane"},
        }
    ],
    "line": [
        {
            "applicationId": "1644264921",
            "userId": "U045147f1ad961bfe996b72bbf417f3c9",
            "systemData": {"displayName": "Jane Smith"},
        }
    ],
    "instagram": [
        {
            "applicationId": "17841446795352028",
            "userId": "12461436693342628",
            "systemData": {"displayName": "jane.smith"},
        }
    ],
    "liveChat": [
        {
            "applicationId": "1148203323283877",
            "userId": "370329180020364",
            "systemData": {"customer": {"displayName": "Jane Smith"}},
        }
    ],
}

PERSON_FULL = {
    **JANE,
    "tags": ["VIP Customers", "New Customers"],
    "customAttributes": {
        "Contract Expiry": "2018-06-01",
        "Company": "Acme",
        "ShoppingCartList": SHOPPING_CART,
    },
    "contactInformation": CONTACT_INFORMATION,
}

# POST /v1/identities/person
CREATE_PERSON_IDENTITY_REQUEST = {
    "country": "US",
    "currency": "USD",
    "type": "person",
    "alias": "PERSON_ALIAS",
    "company": 3,
    "person": PERSON_FULL,
    "data": {"custom_field1": "custom_value1"},
}
CREATE_PERSON_IDENTITY_RESPONSE = {
    "id": IDENTITY_ID,
    "owner": OWNER,
    "country": "US",
    "currency": "USD",
    "type": "person",
    "alias": "PERSON_ALIAS",
    "company": "3",
    "person": {**PERSON_FULL, "origin": "API", "modifiedFrom": "API"},
    "data": {"custom_field1": "custom_value1"},
    "created_at": CREATED_AT_MS,
    "error": None,
}

# GET /v1/identities/:id/person, POST /v1/identities/:id/person (its body is JANE)
PERSON_IDENTITY_RESPONSE = {
    "id": IDENTITY_ID,
    "owner": OWNER,
    "country": "US",
    "currency": "USD",
    "type": "person",
    "person": JANE,
    "data": {"custom_field1": "custom_value1"},
    "created_at": CREATED_AT_MS,
    "error": None,
}

# PATCH /v1/identities/:id/person/255/assign, .../person/unassign, DELETE .../person
ASSIGNED_RESPONSE = {
    "id": IDENTITY_ID,
    "owner": OWNER,
    "country": "US",
    "currency": "USD",
    "type": "person",
    "person": "255",
    "data": {"custom_field1": "custom_value1"},
    "created_at": CREATED_AT_MS,
    "error": None,
}
UNASSIGNED_RESPONSE = {**ASSIGNED_RESPONSE, "person": None}

# PATCH /v1/identities/:id/person
UPDATE_PERSON_REQUEST = {"address": "129 Bethnel Road", "city": "Manchester"}
UPDATE_PERSON_RESPONSE = {
    **PERSON_IDENTITY_RESPONSE,
    "person": {**JANE, "address": "129 Bethnel Road", "city": "Manchester"},
}

# POST /v1/identities/company, PATCH /v1/identities/companies/:id
CREATE_COMPANY_REQUEST = {
    "name": "Orangepill",
    "notes": "notes example",
    "country": "Croatia",
    "region": "Europe",
    "accountManager": "Agent Smith",
    "customerStage": "Active",
    "industry": "IT",
    "vatNumber": "003212059",
    "customAttributes": {"Contract Expiry": "2025-06-01"},
}
COMPANY_RESPONSE = {
    "createdAt": COMPANY_CREATED,
    "modifiedAt": COMPANY_CREATED,
    "id": 1,
    **CREATE_COMPANY_REQUEST,
}
UPDATE_COMPANY_REQUEST = {"customerStage": "Inactive"}
UPDATED_COMPANY_RESPONSE = {**COMPANY_RESPONSE, "customerStage": "Inactive"}

# PATCH /v1/identities/:id with {"company": "3"} / {"company": null}
ASSIGN_COMPANY_REQUEST = {"company": "3"}
UNASSIGN_COMPANY_REQUEST = {"company": None}
COMPANY_ASSIGNED_RESPONSE = {**ASSIGNED_RESPONSE, "company": "3"}
COMPANY_UNASSIGNED_RESPONSE = {**ASSIGNED_RESPONSE, "company": None}

# GET /v1/identities/:id/company
IDENTITY_COMPANY_RESPONSE = {**ASSIGNED_RESPONSE, "company": COMPANY_RESPONSE}

# POST /v1/identities/:id/person/event/addToCart
EVENT_REQUEST = {
    "data": {
        "properties": {
            "itemName": "Generic Shoes",
            "itemId": 9473370,
            "price": 56.324,
            "quantity": 2,
            "fromPromoCampaign": True,
            "inStockSince": "2019-09-30T16:35:52.3616436+03:00",
            "category": "Sneakers",
        }
    }
}
EVENT_RESPONSE = {
    "definitionId": "addToCart",
    "personId": "jane.smith@example.com",
    "personIdentifierType": "EMAIL",
    "occurredTime": "2020-03-30T16:35:52.3617777+03:00",
    "properties": EVENT_REQUEST["data"]["properties"],
}
ADD_TO_CART_FIELDS = [
    {"name": "itemName", "type": "String"},
    {"name": "itemId", "type": "Numeric"},
    {"name": "price", "type": "Decimal"},
    {"name": "quantity", "type": "Numeric"},
    {"name": "fromPromoCampaign", "type": "Boolean"},
    {"name": "inStockSince", "type": "DateTime"},
    {"name": "category", "type": "String"},
]

# POST /v1/identities/persons/sync
SYNC_REQUEST = {"country": "HR", "currency": "EUR", "limit": "100", "page": 2}
SYNC_RESPONSE = {
    "name": "EventStarted",
    "message": "Person sync is in processing pool.",
    "code": 200,
    "type": "persons.sync.started",
    "data": {"country": "HR", "currency": "EUR", "limit": "100", "page": 2, "owner": "6442b885880fc0254ad560e8"},
}

# Seed 002 / Infobip reference data
TAG_REQUEST = {"name": "VIP Customers"}
CUSTOM_ATTRIBUTE_REQUEST = {
    "name": "ShoppingCartList",
    "dataType": "LIST_OF_OBJECTS",
    "objectSchema": {
        "productName": "STRING",
        "productPrice": "DECIMAL",
        "productCategory": "STRING",
        "productImage": "STRING",
    },
}
EVENT_DEFINITION_REQUEST = {
    "definitionId": "addToCart",
    "title": "Add to cart",
    "description": "A product was added to the shopping cart.",
    "fields": ADD_TO_CART_FIELDS,
}


# POST /v1/identities/persons/merge (ours: not in the seed)
MERGE_SURVIVOR_ID, MERGE_ABSORBED_ID = 255, 256
MERGE_REQUEST = {
    "survivor": MERGE_SURVIVOR_ID,
    "others": [MERGE_ABSORBED_ID],
    "choices": {"firstName": MERGE_ABSORBED_ID, "customAttributes.Company": MERGE_SURVIVOR_ID},
    "dryRun": False,
}
MERGE_DRY_RUN_REQUEST = {
    "survivor": MERGE_SURVIVOR_ID,
    "others": [MERGE_ABSORBED_ID],
    "keep": {"emails": ["jane.smith@example.com"], "phones": []},
    "dryRun": True,
}
MERGE_SURVIVOR = {
    "id": MERGE_SURVIVOR_ID,
    "createdAt": "2023-03-04T19:16:41",
    "modifiedAt": "2024-05-01T08:00:00",
    "externalId": None,
    "type": "CUSTOMER",
    **{k: v for k, v in JANE.items() if k != "profilePicture"},
    "firstName": "Janie",
    "preferredLanguage": None,
    "profilePicture": "",
    "origin": "API",
    "modifiedFrom": "API",
    "tags": ["New Customers", "VIP Customers"],
    "customAttributes": {"Company": "Acme"},
    "contactInformation": {"phone": [{"number": "41793026727"}], "email": [{"address": "jane.smith@example.com"}]},
    "company": None,
    "infobipId": None,
    "syncStatus": "local",
    "syncError": None,
}
MERGE_RESPONSE = {
    "survivor": MERGE_SURVIVOR,
    "absorbed": [MERGE_ABSORBED_ID],
    "mergeRecord": 12,
    "dryRun": False,
    "choices": {"firstName": MERGE_ABSORBED_ID, "lastName": MERGE_SURVIVOR_ID, "customAttributes.Company": 255},
    "kept": {
        "phones": ["41793026727"],
        "emails": ["jane.smith@example.com"],
        "tags": ["New Customers", "VIP Customers"],
    },
}


def example(value):
    """A private copy, so no caller can change the contract by accident."""
    return copy.deepcopy(value)


# PUT /v1/identities/:id/person, .../person/contacts, .../person/tags
REPLACE_PERSON_REQUEST = {
    **JANE,
    "tags": ["VIP Customers"],
    "contactInformation": {"email": [{"address": "jane.smith@example.com"}]},
}
LAST_CONTACT_ERROR = {
    "name": "ValidationError",
    "message": "Invalid input. contactInformation.email: jane.smith@example.com is the person's last phone or email "
    "and it has no externalId: Infobip could no longer identify it; set an externalId or add another contact first",
    "code": 400,
    "type": "last_contact",
    "data": {
        "fields": {
            "contactInformation.email": [
                "jane.smith@example.com is the person's last phone or email and it has no externalId: Infobip could "
                "no longer identify it; set an externalId or add another contact first"
            ]
        }
    },
}
CONTACTS_BATCH_REQUEST = {
    "add": {"phone": ["41793026727"], "email": ["jane@work.example.com"]},
    "remove": {"email": ["jane.smith@example.com"]},
}
TAGS_BATCH_REQUEST = {"add": ["Newsletter", "Promo 2026"], "remove": ["VIP Customers"]}

# GET /v1/identities/:id/person/events
PERSON_EVENTS_RESPONSE = {
    "events": [
        {
            "eventId": "c0ffee0000000000000000000000abcd",
            "definitionId": "addToCart",
            "personId": "jane.smith@example.com",
            "personIdentifierType": "EMAIL",
            "occurredTime": "2026-01-15T10:00:00",
            "properties": {"product": "Umbrella", "price": 12.5},
        }
    ],
    "limit": 20,
    "page": 1,
    "orderBy": "occurredTime:desc",
}
EVENT_DEFINITION_UPDATE_REQUEST = {
    "title": "Added to cart",
    "fields": [{"name": "product", "type": "String"}, {"name": "price", "type": "Decimal"}],
}

# POST /v1/identities/persons/events/:definitionId
EVENT_BY_IDENTIFIER_REQUEST = {
    "identifier": {"type": "EMAIL", "value": "new.customer@example.com"},
    "createPerson": True,
    "data": {"properties": {"product": "Umbrella"}, "eventId": "order-2026-0001"},
}

# /v1/identities/companies/:id/persons
COMPANY_PERSONS_REQUEST = {"persons": [255, 256]}

# POST /v1/identities/persons/batch
PERSONS_BATCH_REQUEST = {
    "persons": [
        {"firstName": "Ann", "contactInformation": {"email": [{"address": "ann@example.com"}]}},
        {"id": 255, "city": "Manchester", "tags": ["VIP Customers"]},
    ]
}
