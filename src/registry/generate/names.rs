//! Name tables: family names weighted by their share of the population, and middle and
//! given names by sex, from which `PopulationGenerator` composes a Vietnamese name.

/// Family names with their approximate share of the population, per ten thousand;
/// the rarest names are left out, so the shares drawn run about 1% high.
pub(super) const FAMILY_NAMES: &[(&str, u32)] = &[
    ("Nguyễn", 3840),
    ("Trần", 1210),
    ("Lê", 950),
    ("Phạm", 700),
    ("Hoàng", 310),
    ("Huỳnh", 200),
    ("Phan", 450),
    ("Vũ", 200),
    ("Võ", 190),
    ("Đặng", 210),
    ("Bùi", 200),
    ("Đỗ", 140),
    ("Hồ", 130),
    ("Ngô", 130),
    ("Dương", 100),
    ("Lý", 50),
    ("Đinh", 80),
    ("Trương", 80),
    ("Đoàn", 60),
    ("Lâm", 50),
    ("Mai", 50),
    ("Trịnh", 50),
    ("Lương", 50),
    ("Cao", 40),
    ("Hà", 40),
    ("Tạ", 30),
    ("Lưu", 30),
    ("Chu", 20),
    ("Tô", 20),
    ("Châu", 20),
    ("Thái", 20),
    ("Phùng", 20),
    ("Triệu", 20),
    ("Vương", 20),
    ("Nông", 20),
    ("Kiều", 15),
    ("Quách", 15),
    ("La", 15),
    ("Đàm", 15),
    ("Từ", 15),
    ("Tăng", 15),
    ("Hứa", 15),
    ("Thân", 15),
    ("Lò", 10),
    ("Diệp", 10),
    ("Khổng", 5),
    ("Lục", 10),
    ("Mạc", 10),
];

pub(super) const FAMILY_CUMULATIVE: [u32; FAMILY_NAMES.len()] = cumulative(FAMILY_NAMES);

pub(super) const MALE_MIDDLE: &[&str] = &[
    "Hữu", "Đức", "Minh", "Quang", "Công", "Thành", "Ngọc", "Xuân", "Thanh", "Quốc", "Trọng",
    "Đình", "Duy", "Hoàng", "Gia", "Anh", "Tiến", "Mạnh", "Bá", "Việt", "Nhật", "Huy", "Tấn",
    "Chí", "Trung", "Thế", "Đăng",
];

/// Second words of compound male middle names ("Hoàng Gia", "Quang Minh").
pub(super) const MALE_SECOND: &[&str] = &[
    "Minh", "Gia", "Anh", "Hoàng", "Nhật", "Đăng", "Bảo", "Thiên", "Quốc", "Đức",
];

pub(super) const FEMALE_MIDDLE: &[&str] = &[
    "Ngọc", "Thu", "Thanh", "Kim", "Mỹ", "Hồng", "Bích", "Thùy", "Phương", "Minh", "Khánh", "Hoài",
    "Diệu", "Hải", "Quỳnh", "Bảo", "Ánh", "Tuyết", "Xuân", "Cẩm",
];

/// Second words of compound female middle names ("Ngọc Bảo", "Minh Khánh").
pub(super) const FEMALE_SECOND: &[&str] = &[
    "Bảo", "Khánh", "Phương", "Minh", "Hoài", "Diệu", "Thảo", "Ngọc", "Gia", "Tường",
];

pub(super) const MALE_GIVEN: &[&str] = &[
    "An", "Anh", "Bảo", "Bình", "Cường", "Dũng", "Duy", "Đạt", "Đức", "Hải", "Hiếu", "Hoàng",
    "Hùng", "Huy", "Khang", "Khánh", "Khoa", "Khôi", "Kiên", "Lâm", "Long", "Lộc", "Minh", "Nam",
    "Nghĩa", "Nhân", "Phong", "Phúc", "Quân", "Quang", "Sơn", "Tài", "Tâm", "Thắng", "Thành",
    "Thịnh", "Tiến", "Toàn", "Trung", "Tú", "Tuấn", "Việt", "Vinh", "Vũ",
];

pub(super) const FEMALE_GIVEN: &[&str] = &[
    "An", "Anh", "Châu", "Chi", "Dung", "Duyên", "Giang", "Hà", "Hạnh", "Hằng", "Hiền", "Hoa",
    "Hồng", "Hương", "Huyền", "Lan", "Liên", "Linh", "Loan", "Ly", "Mai", "My", "Nga", "Ngân",
    "Ngọc", "Nhi", "Nhung", "Oanh", "Phương", "Quỳnh", "Tâm", "Thảo", "Thủy", "Trang", "Trâm",
    "Tuyết", "Uyên", "Vân", "Vy", "Yến",
];

/// Running totals of the weights in `table`, as `SplitMix64::weighted` draws from.
const fn cumulative<T, const N: usize>(table: &[(T, u32)]) -> [u32; N] {
    let mut out = [0; N];
    let mut sum = 0;
    let mut i = 0;
    while i < N {
        sum += table[i].1;
        out[i] = sum;
        i += 1;
    }
    out
}
