"""What an import file looks like: its columns, the occupations it may name, the example file."""
from __future__ import annotations

import csv
import io

from flask_babel import lazy_gettext as _l

from ..models import Occupation
from ..sheets import normalise_key

COLUMNS = ("mobile", "name", "union", "occupation", "password")
REQUIRED_COLUMNS = ("mobile", "name", "union", "occupation")

COLUMN_TITLES = {
    "mobile": _l("Mobile number"),
    "name": _l("Name"),
    "union": _l("Union"),
    "occupation": _l("Occupation"),
    "password": _l("Initial password"),
}

#: The header each column has in the example file (Chinese, as the unions' own sheets).
EXAMPLE_HEADERS = {"mobile": "手机号", "name": "姓名", "union": "工会", "occupation": "职业",
                   "password": "初始密码"}

#: Chinese display names of the occupations (first is the name used in the UI and the example
#: file; the others are spellings seen in unions' sheets).  Kept here because the message
#: catalogs are not loaded when a file is imported from the command line.
OCCUPATION_NAMES_ZH: dict[Occupation, tuple[str, ...]] = {
    Occupation.RIDER: ("外卖骑手", "骑手", "外卖员", "外卖配送员"),
    Occupation.COURIER: ("快递员", "快递小哥", "快递配送员"),
    Occupation.RIDE_HAILING_DRIVER: ("网约车司机", "网约车驾驶员"),
    Occupation.TRUCK_DRIVER: ("货车司机", "卡车司机", "货车驾驶员"),
    Occupation.DOMESTIC_WORKER: ("家政服务员", "家政工", "家政人员"),
    Occupation.OFFICE_WORKER: ("办公室职员", "职员", "企业职员"),
    Occupation.FACTORY_WORKER: ("工厂工人", "产业工人", "工人"),
    Occupation.CONSTRUCTION_WORKER: ("建筑工人",),
    Occupation.TEACHER: ("教师", "老师"),
    Occupation.MEDICAL_WORKER: ("医务人员", "医护人员"),
    Occupation.SERVICE_WORKER: ("服务业人员", "服务人员"),
    Occupation.CIVIL_SERVANT: ("公务员",),
    Occupation.OTHER: ("其他", "其它"),
}

#: English names as in the source catalog (the zh catalog may not be loaded, see above).
OCCUPATION_NAMES_EN: dict[Occupation, str] = {
    Occupation.RIDER: "Delivery rider", Occupation.COURIER: "Courier",
    Occupation.RIDE_HAILING_DRIVER: "Ride-hailing driver", Occupation.TRUCK_DRIVER: "Truck driver",
    Occupation.DOMESTIC_WORKER: "Domestic worker", Occupation.OFFICE_WORKER: "Office worker",
    Occupation.FACTORY_WORKER: "Factory worker", Occupation.CONSTRUCTION_WORKER: "Construction worker",
    Occupation.TEACHER: "Teacher", Occupation.MEDICAL_WORKER: "Medical worker",
    Occupation.SERVICE_WORKER: "Service worker", Occupation.CIVIL_SERVANT: "Civil servant",
    Occupation.OTHER: "Other",
}

_OCCUPATION_LOOKUP: dict[str, Occupation] = {}
for _occupation in Occupation:
    _OCCUPATION_LOOKUP[normalise_key(_occupation.value)] = _occupation
    _OCCUPATION_LOOKUP[normalise_key(OCCUPATION_NAMES_EN[_occupation])] = _occupation
    for _name in OCCUPATION_NAMES_ZH[_occupation]:
        _OCCUPATION_LOOKUP[normalise_key(_name)] = _occupation


def occupation_from_cell(value: str) -> Occupation | None:
    return _OCCUPATION_LOOKUP.get(normalise_key(value))


def occupation_names_zh() -> list[str]:
    return [names[0] for names in OCCUPATION_NAMES_ZH.values()]


def example_csv(union_name: str = "北京建工资源公司工会") -> bytes:
    """An example file with a BOM, so Excel opens the Chinese text correctly."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([EXAMPLE_HEADERS[key] for key in COLUMNS])
    writer.writerow(["13800000001", "张三", union_name, "快递员", ""])
    writer.writerow(["13800000002", "李四", union_name, "外卖骑手", ""])
    writer.writerow(["13800000003", "王五", union_name, "其他", "Initial2024"])
    return ("\ufeff" + out.getvalue()).encode("utf-8")
