//! The real urban (quận) and rural (huyện) districts of the five centrally-run cities,
//! each with a few of its wards or communes.

use super::places::{District, NUMBERED_WARDS};

const fn d(name: &'static str, wards: &'static [&'static str]) -> District {
    District { name, wards }
}

pub(super) const HA_NOI_URBAN: &[District] = &[
    d(
        "Quận Ba Đình",
        &[
            "Phúc Xá",
            "Trúc Bạch",
            "Vĩnh Phúc",
            "Cống Vị",
            "Liễu Giai",
            "Ngọc Hà",
            "Kim Mã",
            "Điện Biên",
        ],
    ),
    d(
        "Quận Hoàn Kiếm",
        &[
            "Hàng Bạc",
            "Hàng Trống",
            "Tràng Tiền",
            "Cửa Nam",
            "Hàng Bông",
            "Lý Thái Tổ",
            "Phan Chu Trinh",
        ],
    ),
    d(
        "Quận Đống Đa",
        &[
            "Văn Miếu",
            "Quốc Tử Giám",
            "Láng Hạ",
            "Khâm Thiên",
            "Ô Chợ Dừa",
            "Trung Liệt",
            "Kim Liên",
        ],
    ),
    d(
        "Quận Hai Bà Trưng",
        &[
            "Bạch Đằng",
            "Lê Đại Hành",
            "Bách Khoa",
            "Minh Khai",
            "Trương Định",
            "Quỳnh Mai",
        ],
    ),
    d(
        "Quận Cầu Giấy",
        &[
            "Dịch Vọng",
            "Dịch Vọng Hậu",
            "Nghĩa Đô",
            "Nghĩa Tân",
            "Quan Hoa",
            "Yên Hòa",
            "Trung Hòa",
            "Mai Dịch",
        ],
    ),
    d(
        "Quận Thanh Xuân",
        &[
            "Khương Trung",
            "Khương Mai",
            "Nhân Chính",
            "Thanh Xuân Bắc",
            "Thượng Đình",
            "Kim Giang",
        ],
    ),
    d(
        "Quận Tây Hồ",
        &[
            "Quảng An",
            "Nhật Tân",
            "Thụy Khuê",
            "Bưởi",
            "Xuân La",
            "Phú Thượng",
        ],
    ),
    d(
        "Quận Long Biên",
        &[
            "Ngọc Lâm",
            "Bồ Đề",
            "Gia Thụy",
            "Phúc Đồng",
            "Thạch Bàn",
            "Việt Hưng",
        ],
    ),
    d(
        "Quận Hoàng Mai",
        &[
            "Định Công",
            "Đại Kim",
            "Hoàng Liệt",
            "Tương Mai",
            "Vĩnh Hưng",
            "Lĩnh Nam",
        ],
    ),
    d(
        "Quận Hà Đông",
        &[
            "Văn Quán",
            "Mộ Lao",
            "Hà Cầu",
            "La Khê",
            "Kiến Hưng",
            "Yên Nghĩa",
        ],
    ),
];

pub(super) const HA_NOI_RURAL: &[District] = &[
    d(
        "Huyện Đông Anh",
        &["Uy Nỗ", "Kim Chung", "Hải Bối", "Vân Nội", "Cổ Loa"],
    ),
    d(
        "Huyện Gia Lâm",
        &["Bát Tràng", "Kiêu Kỵ", "Đa Tốn", "Dương Xá"],
    ),
    d(
        "Huyện Sóc Sơn",
        &["Phù Linh", "Tiên Dược", "Mai Đình", "Minh Trí"],
    ),
    d(
        "Huyện Thanh Trì",
        &["Tả Thanh Oai", "Tam Hiệp", "Vĩnh Quỳnh", "Ngũ Hiệp"],
    ),
    d(
        "Huyện Ba Vì",
        &["Tản Lĩnh", "Vân Hòa", "Ba Trại", "Thụy An"],
    ),
];

pub(super) const HAI_PHONG_URBAN: &[District] = &[
    d(
        "Quận Hồng Bàng",
        &[
            "Hoàng Văn Thụ",
            "Minh Khai",
            "Quán Toan",
            "Sở Dầu",
            "Thượng Lý",
        ],
    ),
    d(
        "Quận Ngô Quyền",
        &["Máy Tơ", "Lạch Tray", "Đằng Giang", "Cầu Đất", "Gia Viên"],
    ),
    d(
        "Quận Lê Chân",
        &[
            "An Biên",
            "Cát Dài",
            "Dư Hàng Kênh",
            "Kênh Dương",
            "Vĩnh Niệm",
        ],
    ),
    d(
        "Quận Hải An",
        &["Đằng Hải", "Đằng Lâm", "Thành Tô", "Cát Bi"],
    ),
    d(
        "Quận Kiến An",
        &["Bắc Sơn", "Đồng Hòa", "Quán Trữ", "Trần Thành Ngọ"],
    ),
];

pub(super) const HAI_PHONG_RURAL: &[District] = &[
    d(
        "Huyện An Dương",
        &["An Đồng", "Hồng Phong", "Lê Thiện", "Đại Bản"],
    ),
    d(
        "Huyện Thủy Nguyên",
        &["Thủy Sơn", "Lập Lễ", "Tam Hưng", "Kỳ Sơn"],
    ),
    d("Huyện Kiến Thụy", &["Đại Hợp", "Tú Sơn", "Thụy Hương"]),
    d("Huyện Vĩnh Bảo", &["Tam Cường", "Cổ Am", "Hiệp Hòa"]),
];

pub(super) const DA_NANG_URBAN: &[District] = &[
    d(
        "Quận Hải Châu",
        &[
            "Hải Châu I",
            "Thạch Thang",
            "Thanh Bình",
            "Phước Ninh",
            "Hòa Thuận Đông",
            "Bình Hiên",
        ],
    ),
    d(
        "Quận Thanh Khê",
        &["Tam Thuận", "Thạc Gián", "Chính Gián", "An Khê", "Xuân Hà"],
    ),
    d(
        "Quận Sơn Trà",
        &[
            "An Hải Bắc",
            "Phước Mỹ",
            "Mân Thái",
            "Thọ Quang",
            "Nại Hiên Đông",
        ],
    ),
    d(
        "Quận Ngũ Hành Sơn",
        &["Mỹ An", "Khuê Mỹ", "Hòa Hải", "Hòa Quý"],
    ),
    d(
        "Quận Liên Chiểu",
        &["Hòa Minh", "Hòa Khánh Bắc", "Hòa Khánh Nam", "Hòa Hiệp Nam"],
    ),
    d(
        "Quận Cẩm Lệ",
        &["Hòa An", "Hòa Phát", "Hòa Thọ Đông", "Khuê Trung"],
    ),
];

pub(super) const DA_NANG_RURAL: &[District] = &[d(
    "Huyện Hòa Vang",
    &["Hòa Phong", "Hòa Tiến", "Hòa Châu", "Hòa Nhơn", "Hòa Sơn"],
)];

pub(super) const HO_CHI_MINH_URBAN: &[District] = &[
    d(
        "Quận 1",
        &[
            "Bến Nghé",
            "Bến Thành",
            "Đa Kao",
            "Tân Định",
            "Cầu Ông Lãnh",
            "Nguyễn Thái Bình",
            "Phạm Ngũ Lão",
            "Cô Giang",
        ],
    ),
    d("Quận 3", NUMBERED_WARDS),
    d("Quận 4", NUMBERED_WARDS),
    d("Quận 5", NUMBERED_WARDS),
    d("Quận 6", NUMBERED_WARDS),
    d(
        "Quận 7",
        &[
            "Tân Phong",
            "Tân Hưng",
            "Tân Kiểng",
            "Tân Quy",
            "Bình Thuận",
            "Phú Mỹ",
            "Phú Thuận",
            "Tân Phú",
        ],
    ),
    d("Quận 8", NUMBERED_WARDS),
    d("Quận 10", NUMBERED_WARDS),
    d("Quận 11", NUMBERED_WARDS),
    d(
        "Quận 12",
        &[
            "Tân Chánh Hiệp",
            "Hiệp Thành",
            "Thạnh Lộc",
            "Thới An",
            "Đông Hưng Thuận",
            "An Phú Đông",
        ],
    ),
    d("Quận Bình Thạnh", NUMBERED_WARDS),
    d("Quận Gò Vấp", NUMBERED_WARDS),
    d("Quận Phú Nhuận", NUMBERED_WARDS),
    d("Quận Tân Bình", NUMBERED_WARDS),
    d(
        "Quận Tân Phú",
        &[
            "Tân Sơn Nhì",
            "Tây Thạnh",
            "Sơn Kỳ",
            "Tân Quý",
            "Phú Thọ Hòa",
            "Hiệp Tân",
            "Hòa Thạnh",
        ],
    ),
    d(
        "Quận Bình Tân",
        &["An Lạc", "Bình Hưng Hòa", "Bình Trị Đông", "Tân Tạo"],
    ),
    d(
        "Thành phố Thủ Đức",
        &[
            "Thảo Điền",
            "An Phú",
            "Hiệp Bình Chánh",
            "Linh Trung",
            "Linh Chiểu",
            "Phước Long B",
            "Tăng Nhơn Phú A",
            "Long Thạnh Mỹ",
            "Thủ Thiêm",
        ],
    ),
];

pub(super) const HO_CHI_MINH_RURAL: &[District] = &[
    d(
        "Huyện Bình Chánh",
        &[
            "Vĩnh Lộc A",
            "Bình Hưng",
            "Phong Phú",
            "Tân Kiên",
            "Lê Minh Xuân",
        ],
    ),
    d(
        "Huyện Củ Chi",
        &["Tân Thông Hội", "Phước Vĩnh An", "Trung An", "Tân An Hội"],
    ),
    d(
        "Huyện Hóc Môn",
        &["Bà Điểm", "Xuân Thới Thượng", "Đông Thạnh", "Tân Xuân"],
    ),
    d(
        "Huyện Nhà Bè",
        &["Phước Kiển", "Phước Lộc", "Nhơn Đức", "Long Thới"],
    ),
    d("Huyện Cần Giờ", &["Bình Khánh", "An Thới Đông", "Long Hòa"]),
];

pub(super) const CAN_THO_URBAN: &[District] = &[
    d(
        "Quận Ninh Kiều",
        &[
            "Tân An",
            "An Hòa",
            "Cái Khế",
            "Xuân Khánh",
            "Hưng Lợi",
            "An Khánh",
        ],
    ),
    d(
        "Quận Bình Thủy",
        &["Bình Thủy", "Trà An", "An Thới", "Long Hòa"],
    ),
    d(
        "Quận Cái Răng",
        &["Lê Bình", "Hưng Phú", "Ba Láng", "Phú Thứ"],
    ),
    d("Quận Ô Môn", &["Châu Văn Liêm", "Phước Thới", "Thới Long"]),
    d("Quận Thốt Nốt", &["Thốt Nốt", "Trung Kiên", "Thuận Hưng"]),
];

pub(super) const CAN_THO_RURAL: &[District] = &[
    d(
        "Huyện Phong Điền",
        &["Mỹ Khánh", "Nhơn Ái", "Tân Thới", "Giai Xuân"],
    ),
    d("Huyện Cờ Đỏ", &["Thới Hưng", "Đông Hiệp", "Trung An"]),
    d("Huyện Thới Lai", &["Định Môn", "Trường Xuân", "Xuân Thắng"]),
];
