//! Where generated citizens are born and live: a profile of each province (its 2019
//! population and, for the five centrally-run cities, their districts from `cities`),
//! and the wards, districts, communes and streets drawn by region for the other provinces.

use super::cities::{
    CAN_THO_RURAL, CAN_THO_URBAN, DA_NANG_RURAL, DA_NANG_URBAN, HA_NOI_RURAL, HA_NOI_URBAN,
    HAI_PHONG_RURAL, HAI_PHONG_URBAN, HO_CHI_MINH_RURAL, HO_CHI_MINH_URBAN,
};

/// Provinces and centrally-run cities, as many as in `PROVINCES`.
pub(super) const PROVINCE_COUNT: usize = 63;

/// Share of citizens of an ordinary province who live in its capital (Vietnam is
/// about 38% urban, concentrated in the five centrally-run cities).
pub(super) const PROVINCE_URBAN_PER_MILLE: u32 = 330;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Region {
    North,
    Central,
    South,
}

impl Region {
    /// From the province code, whose numbering runs north to south: Thanh Hóa (038)
    /// opens the centre, Bình Phước (070) the south.
    pub(super) fn of(code: &str) -> Self {
        if code < "038" {
            Region::North
        } else if code < "070" {
            Region::Central
        } else {
            Region::South
        }
    }

    pub(super) fn urban_wards(self) -> &'static [&'static str] {
        match self {
            Region::North => NORTH_URBAN_WARDS,
            Region::Central => CENTRAL_URBAN_WARDS,
            Region::South => SOUTH_URBAN_WARDS,
        }
    }

    pub(super) fn rural_districts(self) -> &'static [&'static str] {
        match self {
            Region::North => NORTH_RURAL_DISTRICTS,
            Region::Central => CENTRAL_RURAL_DISTRICTS,
            Region::South => SOUTH_RURAL_DISTRICTS,
        }
    }

    pub(super) fn communes(self) -> &'static [&'static str] {
        match self {
            Region::North => NORTH_COMMUNES,
            Region::Central => CENTRAL_COMMUNES,
            Region::South => SOUTH_COMMUNES,
        }
    }
}

pub(super) struct ProvinceProfile {
    /// Must equal the code at the same index of `PROVINCES`.
    pub(super) code: &'static str,
    /// 2019 census population in thousands: the weight as a birth place and a home.
    population_k: u32,
    pub(super) towns: Towns,
}

/// Where the districts of an address come from.
pub(super) enum Towns {
    /// A centrally-run city, with real urban (quận) and rural (huyện) districts.
    City {
        urban_per_mille: u32,
        urban: &'static [District],
        rural: &'static [District],
    },
    /// A province: town addresses are in its capital, country ones in a district of
    /// its region (not necessarily of the province itself).
    Province { capital: &'static str },
}

#[derive(Clone, Copy)]
pub(super) struct District {
    /// With its prefix: "Quận 1", "Huyện Củ Chi", "Thành phố Thủ Đức".
    pub(super) name: &'static str,
    /// Without the "Phường" / "Xã" prefix; [`NUMBERED_WARDS`] where wards are numbered.
    pub(super) wards: &'static [&'static str],
}

/// No ward names: the district numbers its wards ("Phường 1", "Phường 2", …), as most
/// of the old districts of Hồ Chí Minh and many southern towns do.
pub(super) const NUMBERED_WARDS: &[&str] = &[];

const fn city(
    code: &'static str,
    population_k: u32,
    urban_per_mille: u32,
    urban: &'static [District],
    rural: &'static [District],
) -> ProvinceProfile {
    ProvinceProfile {
        code,
        population_k,
        towns: Towns::City {
            urban_per_mille,
            urban,
            rural,
        },
    }
}

const fn province(code: &'static str, population_k: u32, capital: &'static str) -> ProvinceProfile {
    ProvinceProfile {
        code,
        population_k,
        towns: Towns::Province { capital },
    }
}

/// In the order of `PROVINCES`.
pub(super) const PROFILES: &[ProvinceProfile; PROVINCE_COUNT] = &[
    city("001", 8054, 500, HA_NOI_URBAN, HA_NOI_RURAL),
    province("002", 855, "Thành phố Hà Giang"),
    province("004", 530, "Thành phố Cao Bằng"),
    province("006", 314, "Thành phố Bắc Kạn"),
    province("008", 785, "Thành phố Tuyên Quang"),
    province("010", 731, "Thành phố Lào Cai"),
    province("011", 599, "Thành phố Điện Biên Phủ"),
    province("012", 461, "Thành phố Lai Châu"),
    province("014", 1249, "Thành phố Sơn La"),
    province("015", 822, "Thành phố Yên Bái"),
    province("017", 855, "Thành phố Hòa Bình"),
    province("019", 1287, "Thành phố Thái Nguyên"),
    province("020", 782, "Thành phố Lạng Sơn"),
    province("022", 1321, "Thành phố Hạ Long"),
    province("024", 1804, "Thành phố Bắc Giang"),
    province("025", 1464, "Thành phố Việt Trì"),
    province("026", 1152, "Thành phố Vĩnh Yên"),
    province("027", 1369, "Thành phố Bắc Ninh"),
    province("030", 1893, "Thành phố Hải Dương"),
    city("031", 2029, 460, HAI_PHONG_URBAN, HAI_PHONG_RURAL),
    province("033", 1253, "Thành phố Hưng Yên"),
    province("034", 1861, "Thành phố Thái Bình"),
    province("035", 853, "Thành phố Phủ Lý"),
    province("036", 1781, "Thành phố Nam Định"),
    province("037", 983, "Thành phố Ninh Bình"),
    province("038", 3641, "Thành phố Thanh Hóa"),
    province("040", 3328, "Thành phố Vinh"),
    province("042", 1289, "Thành phố Hà Tĩnh"),
    province("044", 896, "Thành phố Đồng Hới"),
    province("045", 633, "Thành phố Đông Hà"),
    province("046", 1129, "Thành phố Huế"),
    city("048", 1135, 870, DA_NANG_URBAN, DA_NANG_RURAL),
    province("049", 1496, "Thành phố Tam Kỳ"),
    province("051", 1232, "Thành phố Quảng Ngãi"),
    province("052", 1487, "Thành phố Quy Nhơn"),
    province("054", 873, "Thành phố Tuy Hòa"),
    province("056", 1232, "Thành phố Nha Trang"),
    province("058", 591, "Thành phố Phan Rang - Tháp Chàm"),
    province("060", 1231, "Thành phố Phan Thiết"),
    province("062", 541, "Thành phố Kon Tum"),
    province("064", 1514, "Thành phố Pleiku"),
    province("066", 1870, "Thành phố Buôn Ma Thuột"),
    province("067", 623, "Thành phố Gia Nghĩa"),
    province("068", 1297, "Thành phố Đà Lạt"),
    province("070", 995, "Thành phố Đồng Xoài"),
    province("072", 1170, "Thành phố Tây Ninh"),
    province("074", 2456, "Thành phố Thủ Dầu Một"),
    province("075", 3097, "Thành phố Biên Hòa"),
    province("077", 1149, "Thành phố Vũng Tàu"),
    city("079", 8993, 800, HO_CHI_MINH_URBAN, HO_CHI_MINH_RURAL),
    province("080", 1689, "Thành phố Tân An"),
    province("082", 1765, "Thành phố Mỹ Tho"),
    province("083", 1289, "Thành phố Bến Tre"),
    province("084", 1010, "Thành phố Trà Vinh"),
    province("086", 1023, "Thành phố Vĩnh Long"),
    province("087", 1600, "Thành phố Cao Lãnh"),
    province("089", 1908, "Thành phố Long Xuyên"),
    province("091", 1723, "Thành phố Rạch Giá"),
    city("092", 1236, 700, CAN_THO_URBAN, CAN_THO_RURAL),
    province("093", 734, "Thành phố Vị Thanh"),
    province("094", 1200, "Thành phố Sóc Trăng"),
    province("095", 908, "Thành phố Bạc Liêu"),
    province("096", 1194, "Thành phố Cà Mau"),
];

pub(super) const PROVINCE_CUMULATIVE: [u32; PROVINCE_COUNT] = {
    let mut out = [0; PROVINCE_COUNT];
    let mut sum = 0;
    let mut i = 0;
    while i < PROVINCE_COUNT {
        sum += PROFILES[i].population_k;
        out[i] = sum;
        i += 1;
    }
    out
};

pub(super) const NORTH_URBAN_WARDS: &[&str] = &[
    "Trần Phú",
    "Quang Trung",
    "Hoàng Văn Thụ",
    "Minh Khai",
    "Tân Thịnh",
    "Phan Đình Phùng",
    "Đồng Quang",
    "Lê Hồng Phong",
    "Ngô Quyền",
    "Trần Hưng Đạo",
    "Hồng Hải",
    "Bạch Đằng",
];

pub(super) const CENTRAL_URBAN_WARDS: &[&str] = &[
    "Lê Lợi",
    "Hưng Bình",
    "Trường Thi",
    "Vĩnh Ninh",
    "Phú Hội",
    "Tân Lợi",
    "Phước Hòa",
    "Lộc Thọ",
    "Trần Quang Diệu",
    "Hải Cảng",
    "Đống Đa",
    "Nguyễn Văn Cừ",
];

pub(super) const SOUTH_URBAN_WARDS: &[&str] = &[
    "Phú Cường",
    "Hiệp Thành",
    "Tân Mai",
    "Quyết Thắng",
    "Mỹ Bình",
    "Mỹ Long",
    "Vĩnh Thanh Vân",
    "Thắng Tam",
    "Rạch Dừa",
    "Tân Hiệp",
    "Long Toàn",
    "An Hòa",
];

pub(super) const NORTH_RURAL_DISTRICTS: &[&str] = &[
    "Huyện Yên Lạc",
    "Huyện Tiên Du",
    "Huyện Kim Sơn",
    "Huyện Thanh Sơn",
    "Huyện Phú Bình",
    "Huyện Vũ Thư",
    "Huyện Hải Hậu",
    "Huyện Lục Nam",
    "Huyện Yên Dũng",
    "Huyện Gia Lộc",
    "Huyện Văn Lâm",
];

pub(super) const CENTRAL_RURAL_DISTRICTS: &[&str] = &[
    "Huyện Quỳnh Lưu",
    "Huyện Diễn Châu",
    "Huyện Hoằng Hóa",
    "Huyện Cẩm Xuyên",
    "Huyện Bố Trạch",
    "Huyện Phú Vang",
    "Huyện Núi Thành",
    "Huyện Sơn Tịnh",
    "Huyện Tuy Phước",
    "Huyện Diên Khánh",
    "Huyện Krông Pắc",
    "Huyện Đức Trọng",
];

pub(super) const SOUTH_RURAL_DISTRICTS: &[&str] = &[
    // Found in a dozen southern provinces, hence listed twice.
    "Huyện Châu Thành",
    "Huyện Châu Thành",
    "Huyện Cần Giuộc",
    "Huyện Chợ Gạo",
    "Huyện Mỏ Cày Nam",
    "Huyện Trảng Bom",
    "Huyện Long Thành",
    "Huyện Thoại Sơn",
    "Huyện Cái Nước",
    "Huyện Phú Tân",
    "Huyện Tam Nông",
    "Huyện Mỹ Tú",
    "Huyện Vĩnh Lợi",
];

pub(super) const NORTH_COMMUNES: &[&str] = &[
    "Đông Phong",
    "Yên Thịnh",
    "Tân Tiến",
    "Hồng Phong",
    "Quang Trung",
    "Minh Đức",
    "Thanh Lâm",
    "Đại Đồng",
    "Nam Sơn",
    "Hợp Thành",
    "Xuân Lai",
    "Tiên Phong",
    "Đồng Tâm",
    "Hưng Đạo",
];

pub(super) const CENTRAL_COMMUNES: &[&str] = &[
    "Quảng Phú",
    "Diễn Thành",
    "Nghi Phong",
    "Hòa Tiến",
    "Tam Hiệp",
    "Phổ Thạnh",
    "Nhơn Hậu",
    "Ea Kao",
    "Cam Thành",
    "Diên An",
    "Phước Thuận",
    "Hải Ninh",
    "Hương Sơn",
    "Tịnh Ấn Tây",
];

pub(super) const SOUTH_COMMUNES: &[&str] = &[
    "Tân Phú Trung",
    "Long Thạnh",
    "Mỹ Hòa",
    "An Nhơn",
    "Thạnh Phú",
    "Vĩnh Thạnh",
    "Phước Long",
    "Bình An",
    "Tân Hội",
    "Hiệp Hòa",
    "Long Hưng",
    "Tân Thành",
    "Mỹ Phước",
    "An Khánh",
];

pub(super) const STREETS: &[&str] = &[
    "Lê Lợi",
    "Trần Hưng Đạo",
    "Nguyễn Huệ",
    "Hai Bà Trưng",
    "Lý Thường Kiệt",
    "Lê Duẩn",
    "Nguyễn Trãi",
    "Quang Trung",
    "Trần Phú",
    "Hùng Vương",
    "Điện Biên Phủ",
    "Phan Chu Trinh",
    "Phan Bội Châu",
    "Lê Thánh Tông",
    "Nguyễn Du",
    "Nguyễn Thị Minh Khai",
    "Võ Thị Sáu",
    "Cách Mạng Tháng Tám",
    "Hoàng Diệu",
    "Ngô Quyền",
    "Lý Thái Tổ",
    "Bà Triệu",
    "Nguyễn Văn Cừ",
    "Lê Hồng Phong",
    "Tôn Đức Thắng",
    "Nguyễn Chí Thanh",
    "Lạc Long Quân",
    "Âu Cơ",
    "Trường Chinh",
    "Nguyễn Văn Linh",
    "Lê Quý Đôn",
    "Chu Văn An",
    "Nguyễn Thái Học",
    "Phạm Ngũ Lão",
    "Trần Quốc Toản",
];
